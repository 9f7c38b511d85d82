"use client";

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { MAX_PREVIEWS, type GenerateBody, type GenerateEvent, type PreviewCount, type ProviderName, type ServerInfo, type Simulate } from "@/lib/protocol";
import { RunError, runInBrowser, runServer, runWorker, type ErrorView, type RunOptions, type RunResult } from "@/lib/client/run";
import { applyPreviewEvent } from "@/lib/client/previews";
import { addEvent, addNote, emptyTimeline, fromAttempts, markSkipped } from "@/lib/client/timeline";
import { ChainEditor, type ChainEntry } from "./ChainEditor";
import { EditImage, type EditMask, type EditSource } from "./EditImage";
import { MonthUsage, useMonthUsage } from "./MonthUsage";
import { Results, type RunState } from "./Results";

type Mode = "node" | "edge" | "browser" | "worker";

const MODES: Array<{ id: Mode; label: string; hint: string }> = [
  { id: "node", label: "Server (Node route)", hint: "POST /api/generate-image on the Node.js runtime" },
  { id: "edge", label: "Server (Edge route)", hint: "POST /api/generate-image-edge on the Edge runtime" },
  { id: "browser", label: "In your browser (bring your own key)", hint: "the package itself runs in this page" },
  { id: "worker", label: "Worker", hint: "the Cloudflare Worker's OpenAI-compatible API" },
];

const SHAPES: Array<{ group: string; options: Array<[string, string]> }> = [
  { group: "Default", options: [["", "Default (1024×1024)"]] },
  {
    group: "Size",
    options: [
      ["size:1024x1024", "1024×1024"],
      ["size:1536x1024", "1536×1024"],
      ["size:1024x1536", "1024×1536"],
      ["size:512x512", "512×512"],
    ],
  },
  {
    group: "Aspect ratio",
    options: [
      ["ratio:1:1", "1:1"],
      ["ratio:4:3", "4:3"],
      ["ratio:3:2", "3:2"],
      ["ratio:16:9", "16:9"],
      ["ratio:9:16", "9:16"],
    ],
  },
];

/** Failures the mock provider can be told to inject (through its `params`). */
export const FAULTS: Array<{ id: string; label: string; params: Omit<Simulate, "target" | "latencyMs"> }> = [
  { id: "none", label: "No failure", params: {} },
  { id: "503x2", label: "503 twice (retries, then recovers)", params: { failFirst: 2, failCode: "provider_error" } },
  { id: "503", label: "503 every time (retries, then falls back)", params: { failFirst: 1000, failCode: "provider_error" } },
  {
    id: "429",
    label: "429 rate limited once, Retry-After 1.5 s",
    params: { failFirst: 1, failCode: "rate_limited", retryAfterMs: 1500 },
  },
  { id: "auth", label: "401 key refused (falls back at once)", params: { failFirst: 1000, failCode: "auth" } },
  { id: "quota", label: "402 out of credit (falls back at once)", params: { failFirst: 1000, failCode: "quota" } },
  {
    id: "content_policy",
    label: "Content policy block (no fallback)",
    params: { failFirst: 1000, failCode: "content_policy" },
  },
];

const DEFAULT_WORKER_URL = process.env.NEXT_PUBLIC_WORKER_URL || "http://127.0.0.1:8787";

const initialRun: RunState = {
  status: "idle",
  timeline: emptyTimeline(),
  images: [],
  previews: {},
  warnings: [],
  partialErrors: [],
};

let entryIds = 0;
const entry = (provider: ProviderName, model: string): ChainEntry => ({ id: ++entryIds, provider, model, apiKey: "" });

function shapeFields(shape: string): { size?: string; aspectRatio?: string } {
  if (shape.startsWith("size:")) return { size: shape.slice(5) };
  if (shape.startsWith("ratio:")) return { aspectRatio: shape.slice(6) };
  return {};
}

/** Everything a run depends on from the form. */
interface RunSettings {
  mode: Mode;
  prompt: string;
  count: number;
  shape: string;
  previews: PreviewCount;
  serverProvider: ProviderName;
  demoChain: ChainEntry[];
  byokChain: ChainEntry[];
  effectiveTarget: string;
  latencyMs: number;
  fault: (typeof FAULTS)[number];
  workerUrl: string;
  workerModel: string;
  workerAsync: boolean;
  /** Ask the Worker for links (`response_format: "url"`) instead of base64. */
  workerLinks: boolean;
  editSource: EditSource | null;
  editMask: EditMask | null;
}

/** Starts a run in the chosen mode. */
function startRun(s: RunSettings, opts: RunOptions): Promise<RunResult> {
  const base = { prompt: s.prompt, count: s.count, ...shapeFields(s.shape), ...(s.previews > 0 ? { partialImages: s.previews } : {}) };
  const { editSource, editMask } = s;
  const edit = editSource ? { images: [editSource.blob], ...(editMask ? { mask: editMask.blob } : {}) } : {};
  const simulate: Simulate = { target: s.effectiveTarget, latencyMs: s.latencyMs, ...s.fault.params };
  if (s.mode === "node" || s.mode === "edge") {
    const editJson: Pick<GenerateBody, "images" | "mask"> = editSource
      ? {
          images: [{ base64: editSource.base64, mimeType: editSource.mimeType }],
          ...(editMask ? { mask: { base64: editMask.base64, mimeType: editMask.mimeType } } : {}),
        }
      : {};
    const body: GenerateBody = { ...base, ...editJson, provider: s.serverProvider };
    if (s.serverProvider === "mock") {
      body.chain = s.demoChain.map((e) => e.model.trim());
      body.simulate = simulate;
    }
    return runServer(s.mode === "node" ? "/api/generate-image" : "/api/generate-image-edge", body, opts);
  }
  if (s.mode === "browser") {
    const providers = s.byokChain.map((e) => {
      const model = e.model.trim() || undefined;
      if (e.provider !== "mock") {
        return { provider: e.provider, model, apiKey: e.apiKey, baseUrl: e.baseUrl?.trim() || undefined };
      }
      const params: Record<string, unknown> = { latencyMs: s.latencyMs };
      if (model === simulate.target) Object.assign(params, s.fault.params);
      return { provider: e.provider, model, params };
    });
    return runInBrowser({ ...base, ...edit }, providers, opts);
  }
  const job = s.workerAsync ? { asyncJob: true } : {};
  return runWorker(s.workerUrl, s.workerModel.trim() || "mock", { ...base, ...edit, links: s.workerLinks, ...job }, opts);
}

export default function Demo() {
  const [mode, setMode] = useState<Mode>("node");
  const [prompt, setPrompt] = useState("a lighthouse on a cliff at dusk, watercolor");
  const [count, setCount] = useState(2);
  const [shape, setShape] = useState("");
  const [serverInfo, setServerInfo] = useState<ServerInfo | null>(null);
  const [serverProvider, setServerProvider] = useState<ProviderName>("mock");
  const [demoChain, setDemoChain] = useState<ChainEntry[]>(() => [entry("mock", "primary"), entry("mock", "fallback")]);
  const [byokChain, setByokChain] = useState<ChainEntry[]>(() => [entry("mock", "primary"), entry("mock", "fallback")]);
  const [faultId, setFaultId] = useState("none");
  const [target, setTarget] = useState("primary");
  const [latencyMs, setLatencyMs] = useState(400);
  const [workerUrl, setWorkerUrl] = useState(DEFAULT_WORKER_URL);
  const [workerModel, setWorkerModel] = useState("mock");
  const [workerAsync, setWorkerAsync] = useState(false);
  const [workerLinks, setWorkerLinks] = useState(false);
  const [previews, setPreviews] = useState<PreviewCount>(0);
  const [run, setRun] = useState<RunState>(initialRun);
  const [editSource, setEditSource] = useState<EditSource | null>(null);
  const [editMask, setEditMask] = useState<EditMask | null>(null);

  const abortRef = useRef<AbortController | null>(null);
  const runIdRef = useRef(0);
  const startRef = useRef(0);

  useEffect(() => {
    let live = true;
    fetch("/api/generate-image")
      .then((r) => (r.ok ? (r.json() as Promise<ServerInfo>) : null))
      .then((info) => live && setServerInfo(info))
      .catch(() => live && setServerInfo(null));
    return () => {
      live = false;
    };
  }, []);

  const serverMode = mode === "node" || mode === "edge";
  const usesMockChain = (serverMode && serverProvider === "mock") || mode === "browser";
  const mockLabels = useMemo(() => {
    const chain = mode === "browser" ? byokChain : demoChain;
    return chain.filter((e) => e.provider === "mock" && e.model.trim()).map((e) => e.model.trim());
  }, [mode, byokChain, demoChain]);
  const effectiveTarget = mockLabels.includes(target) ? target : (mockLabels[0] ?? "");
  const fault = FAULTS.find((f) => f.id === faultId) ?? FAULTS[0];

  const cancel = useCallback(() => abortRef.current?.abort(), []);

  const generate = useCallback(
    async (event: React.FormEvent) => {
      event.preventDefault();
      abortRef.current?.abort();
      const controller = new AbortController();
      abortRef.current = controller;
      const runId = ++runIdRef.current;
      const t0 = performance.now();
      startRef.current = t0;
      const at = () => Math.round(performance.now() - t0);
      const current = () => runIdRef.current === runId;
      setRun({ ...initialRun, status: "running", timeline: emptyTimeline() });

      const opts = {
        signal: controller.signal,
        onEvent: (e: GenerateEvent) => {
          if (!current()) return;
          const atMs = at();
          setRun((r) => {
            const images = e.type === "image" ? Object.assign([...r.images], { [e.index]: e.image }) : r.images;
            return { ...r, images, previews: applyPreviewEvent(r.previews, e), timeline: addEvent(r.timeline, atMs, e) };
          });
        },
        onNote: (text: string) => {
          if (!current()) return;
          const atMs = at();
          setRun((r) => ({ ...r, timeline: addNote(r.timeline, atMs, text) }));
        },
      };

      let result: RunResult;
      try {
        result = await startRun(
          { mode, prompt, count, shape, previews, serverProvider, demoChain, byokChain, effectiveTarget, latencyMs, fault, workerUrl, workerModel, workerAsync, workerLinks, editSource, editMask },
          opts,
        );
      } catch (err) {
        if (!current()) return;
        const view: ErrorView =
          err instanceof RunError
            ? err.view
            : { code: "provider_error", message: String((err as Error)?.message ?? err), retryable: false, attempts: 0 };
        const cancelled = view.code === "aborted";
        setRun((r) => ({
          ...r,
          status: cancelled ? "cancelled" : "error",
          error: cancelled ? undefined : view,
          // Previews are never results: whatever is left of them goes.
          previews: {},
          totalMs: at(),
          timeline: view.attemptList ? markSkipped(r.timeline, view.attemptList, []) : r.timeline,
        }));
        return;
      }
      if (!current()) return;
      const totalMs = at();
      setRun((r) => ({
        ...r,
        status: "done",
        images: result.images,
        previews: {},
        warnings: result.warnings,
        partialErrors: result.errors,
        usage: result.usage,
        totalMs,
        timeline:
          mode === "worker" && !result.liveEvents
            ? fromAttempts(r.timeline, result.attempts, Math.round((result.attemptsClockStart ?? t0) - t0), result.warnings)
            : markSkipped(r.timeline, result.attempts, result.warnings),
      }));
    },
    [mode, prompt, count, shape, previews, serverProvider, demoChain, byokChain, effectiveTarget, latencyMs, fault, workerUrl, workerModel, workerAsync, workerLinks, editSource, editMask],
  );

  const onImageLoad = useCallback(() => {
    const ms = Math.round(performance.now() - startRef.current);
    setRun((r) => (r.firstImageMs === undefined ? { ...r, firstImageMs: ms } : r));
  }, []);

  const onPreviewLoad = useCallback(() => {
    const ms = Math.round(performance.now() - startRef.current);
    setRun((r) => (r.firstPreviewMs === undefined ? { ...r, firstPreviewMs: ms } : r));
  }, []);

  const monthUsage = useMonthUsage(mode === "worker", workerUrl, run.status);
  const running = run.status === "running";
  const activeMode = MODES.find((m) => m.id === mode)!;

  return (
    <div className="layout">
      <form className="panel controls" onSubmit={generate} aria-label="Image generation settings">
        <fieldset className="modes">
          <legend>Where it runs</legend>
          {MODES.map((m) => (
            <label key={m.id} className={`mode ${mode === m.id ? "mode--active" : ""}`}>
              <input
                type="radio"
                name="mode"
                value={m.id}
                checked={mode === m.id}
                onChange={() => setMode(m.id)}
                disabled={running}
              />
              <span>{m.label}</span>
            </label>
          ))}
          <p className="hint">{activeMode.hint}</p>
        </fieldset>

        <div className="field">
          <label htmlFor="prompt">Prompt</label>
          <textarea id="prompt" rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} required />
        </div>

        <div className="row">
          <div className="field field--narrow">
            <label htmlFor="count">Images</label>
            <input
              id="count"
              type="number"
              min={1}
              max={10}
              value={count}
              onChange={(e) => setCount(Math.max(1, Math.min(10, Number(e.target.value) || 1)))}
            />
          </div>
          <div className="field grow">
            <label htmlFor="shape">Size or aspect ratio</label>
            <select id="shape" value={shape} onChange={(e) => setShape(e.target.value)}>
              {SHAPES.map((g) => (
                <optgroup key={g.group} label={g.group}>
                  {g.options.map(([value, label]) => (
                    <option key={value} value={value}>
                      {label}
                    </option>
                  ))}
                </optgroup>
              ))}
            </select>
          </div>
          <div className="field field--narrow">
            <label htmlFor="previews">Previews</label>
            <select
              id="previews"
              value={previews}
              onChange={(e) => setPreviews(Number(e.target.value) as PreviewCount)}
              title="Streamed partial images per image (OpenAI: each costs about 100 output tokens)"
            >
              {Array.from({ length: MAX_PREVIEWS + 1 }, (_, n) => (
                <option key={n} value={n}>
                  {n === 0 ? "Off" : n}
                </option>
              ))}
            </select>
          </div>
        </div>

        <EditImage source={editSource} onSource={setEditSource} onMask={setEditMask} disabled={running} />

        {serverMode && (
          <section className="group" aria-labelledby="server-chain">
            <h2 id="server-chain">Provider chain</h2>
            <p className="hint" data-testid="server-info">
              {serverInfo === null
                ? "Asking the server which providers it has keys for…"
                : serverInfo.mockOnly
                  ? "This server has no provider keys set: it runs the built-in mock provider."
                  : `This server has keys for ${serverInfo.providers.join(", ")} (chain in that order).`}
            </p>
            <div className="field">
              <label htmlFor="server-provider">Provider first in the chain</label>
              <select
                id="server-provider"
                value={serverProvider}
                onChange={(e) => setServerProvider(e.target.value as ProviderName)}
              >
                <option value="mock">mock (demo chain, offline)</option>
                {serverInfo?.providers.map((p) => (
                  <option key={p} value={p}>
                    {p} (the server&apos;s key)
                  </option>
                ))}
              </select>
            </div>
            {serverProvider === "mock" && <ChainEditor entries={demoChain} onChange={setDemoChain} mockOnly />}
          </section>
        )}

        {mode === "browser" && (
          <section className="group" aria-labelledby="byok-chain">
            <h2 id="byok-chain">Provider chain</h2>
            <p className="hint">
              Keys stay in this page&apos;s memory only: never stored, never sent to this site. Your browser calls the
              provider directly. The mock provider needs no key.
            </p>
            <ChainEditor entries={byokChain} onChange={setByokChain} />
          </section>
        )}

        {mode === "worker" && (
          <section className="group" aria-labelledby="worker-settings">
            <h2 id="worker-settings">Worker</h2>
            <div className="field">
              <label htmlFor="worker-url">Worker URL</label>
              <input id="worker-url" type="url" value={workerUrl} onChange={(e) => setWorkerUrl(e.target.value)} />
            </div>
            <div className="field">
              <label htmlFor="worker-model">Model</label>
              <input
                id="worker-model"
                value={workerModel}
                onChange={(e) => setWorkerModel(e.target.value)}
                placeholder="mock, openai, openai/gpt-image-2, auto"
              />
            </div>
            <div className="field">
              <label>
                <input type="checkbox" checked={workerLinks} onChange={(e) => setWorkerLinks(e.target.checked)} /> Links
              </label>
            </div>
            <p className="hint">
              Signs in with a dev JWT from <code>/api/dev-login</code>, then calls{" "}
              <code>POST /v1/images/generations</code> (with an image: <code>/v1/images/edits</code>, multipart) with
              this <code>model</code> (<code>auto</code>: your chain in the Worker; a provider needs your key stored
              there). With previews on, it asks for <code>stream: true</code> and reads the Worker&apos;s event stream. With{" "}
              <em>Links</em>, it asks for <code>response_format: &quot;url&quot;</code>: the images are stored in the
              Worker&apos;s R2 bucket and shown from their signed links (streams always carry base64).
            </p>
            <div className="field">
              <label>
                <input type="checkbox" checked={workerAsync} onChange={(e) => setWorkerAsync(e.target.checked)} /> Async job
              </label>
            </div>
            <p className="hint">
              An async job sends <code>Prefer: respond-async</code>: the Worker answers 202 at once and runs the job in
              your Durable Object; the page polls <code>GET /v1/jobs/&lt;id&gt;</code> (each status in the timeline),
              then loads the images from the result&apos;s signed links. No previews in a job.
            </p>
          </section>
        )}

        <div className="group">
          <fieldset className="simulate" disabled={!usesMockChain || running}>
            <legend>Simulate failures (mock provider)</legend>
            {!usesMockChain && (
              <p className="hint">
                {mode === "worker"
                  ? "The Worker runs the mock without injected faults."
                  : "Only the mock provider takes injected faults."}
              </p>
            )}
            <div className="field">
              <label htmlFor="fault">Failure</label>
              <select id="fault" value={faultId} onChange={(e) => setFaultId(e.target.value)}>
                {FAULTS.map((f) => (
                  <option key={f.id} value={f.id}>
                    {f.label}
                  </option>
                ))}
              </select>
            </div>
            <div className="row">
              <div className="field">
                <label htmlFor="target">On</label>
                <select id="target" value={effectiveTarget} onChange={(e) => setTarget(e.target.value)}>
                  {mockLabels.map((l) => (
                    <option key={l} value={l}>
                      {l}
                    </option>
                  ))}
                </select>
              </div>
              <div className="field grow">
                <label htmlFor="latency">
                  Latency per call: <output htmlFor="latency">{latencyMs} ms</output>
                </label>
                <input
                  id="latency"
                  type="range"
                  min={0}
                  max={3000}
                  step={100}
                  value={latencyMs}
                  onChange={(e) => setLatencyMs(Number(e.target.value))}
                />
              </div>
            </div>
          </fieldset>
        </div>

        <div className="actions">
          <button type="submit" className="primary" disabled={running}>
            {running ? (editSource ? "Editing…" : "Generating…") : editSource ? "Edit image" : "Generate"}
          </button>
          <button type="button" onClick={cancel} disabled={!running}>
            Cancel
          </button>
        </div>
      </form>

      <Results
        run={run}
        prompt={prompt}
        onImageLoad={onImageLoad}
        onPreviewLoad={onPreviewLoad}
        aside={mode === "worker" && <MonthUsage view={monthUsage.view} onRefresh={monthUsage.refresh} />}
      />
    </div>
  );
}
