"use client";

import { providers } from "imagegen/providers";
import type { ProviderName } from "@/lib/protocol";

export interface ChainEntry {
  id: number;
  provider: ProviderName;
  /** For the mock: its label (used as its model id). For the others: an optional model id. */
  model: string;
  /** Bring-your-own-key mode only; React state, never persisted. */
  apiKey: string;
  /** Bring-your-own-key mode only: another origin for the provider's API (a proxy, a local mock); empty = the provider's own. */
  baseUrl?: string;
}

/** The mock first (it needs no key), then the library's table order. */
const PROVIDER_OPTIONS: ProviderName[] = [
  ...providers.filter((p) => !p.needsKey),
  ...providers.filter((p) => p.needsKey),
].map((p) => p.name);
/** Model placeholders: each provider's default (the mock's entries are labels instead). */
const DEFAULT_MODELS = Object.fromEntries(
  providers.map((p) => [p.name, p.needsKey ? p.defaultModel : ""]),
) as Record<ProviderName, string>;
let nextId = 1000;

/** Ordered list of providers: primary first, then fallbacks. */
export function ChainEditor({
  entries,
  onChange,
  mockOnly = false,
}: {
  entries: ChainEntry[];
  onChange: (entries: ChainEntry[]) => void;
  mockOnly?: boolean;
}) {
  const update = (i: number, patch: Partial<ChainEntry>) =>
    onChange(entries.map((e, j) => (j === i ? { ...e, ...patch } : e)));
  const move = (i: number, by: number) => {
    const next = [...entries];
    const [item] = next.splice(i, 1);
    next.splice(i + by, 0, item);
    onChange(next);
  };
  const remove = (i: number) => onChange(entries.filter((_, j) => j !== i));
  const add = () => {
    const used = new Set(entries.map((e) => e.model));
    let n = entries.length;
    let label = `fallback-${n}`;
    while (used.has(label)) label = `fallback-${++n}`;
    onChange([...entries, { id: ++nextId, provider: "mock", model: label, apiKey: "" }]);
  };

  return (
    <div className="chain">
      <ol className="chain__list" aria-label="Provider chain, primary first">
        {entries.map((e, i) => {
          const n = i + 1;
          return (
            <li key={e.id} className="chain__item" data-testid="chain-entry">
              <span className="chain__rank" aria-hidden="true">
                {n}
              </span>
              <div className="chain__fields">
                {!mockOnly && (
                  <select
                    aria-label={`Provider ${n}`}
                    value={e.provider}
                    onChange={(ev) => {
                      const provider = ev.target.value as ProviderName;
                      update(i, { provider, model: provider === "mock" ? `mock-${n}` : "", apiKey: "", baseUrl: "" });
                    }}
                  >
                    {PROVIDER_OPTIONS.map((p) => (
                      <option key={p} value={p}>
                        {p}
                      </option>
                    ))}
                  </select>
                )}
                <input
                  aria-label={e.provider === "mock" ? `Label of mock ${n}` : `Model of provider ${n}`}
                  value={e.model}
                  placeholder={DEFAULT_MODELS[e.provider]}
                  pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
                  maxLength={32}
                  onChange={(ev) => update(i, { model: ev.target.value })}
                  className="chain__model"
                />
                {e.provider !== "mock" && (
                  <input
                    aria-label={`API key of provider ${n} (${e.provider})`}
                    type="password"
                    autoComplete="off"
                    spellCheck={false}
                    placeholder={`${e.provider} API key`}
                    value={e.apiKey}
                    onChange={(ev) => update(i, { apiKey: ev.target.value })}
                    className="chain__key"
                  />
                )}
                {e.provider !== "mock" && (
                  <input
                    aria-label={`Base URL of provider ${n} (${e.provider})`}
                    type="url"
                    spellCheck={false}
                    placeholder="the provider's own API (default)"
                    value={e.baseUrl ?? ""}
                    onChange={(ev) => update(i, { baseUrl: ev.target.value })}
                    className="chain__key"
                  />
                )}
              </div>
              <div className="chain__buttons">
                <button type="button" onClick={() => move(i, -1)} disabled={i === 0} aria-label={`Move ${e.model || e.provider} up`}>
                  ↑
                </button>
                <button
                  type="button"
                  onClick={() => move(i, 1)}
                  disabled={i === entries.length - 1}
                  aria-label={`Move ${e.model || e.provider} down`}
                >
                  ↓
                </button>
                <button type="button" onClick={() => remove(i)} disabled={entries.length === 1} aria-label={`Remove ${e.model || e.provider}`}>
                  ✕
                </button>
              </div>
            </li>
          );
        })}
      </ol>
      {entries.length < 4 && (
        <button type="button" className="link" onClick={add}>
          + Add a fallback
        </button>
      )}
    </div>
  );
}
