"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { heldDevToken } from "@/lib/client/run";
import { formatUsd } from "@/lib/client/timeline";
import { fetchUsage, usageOf, type UsageRow, type UsageView, type WorkerUsage } from "@/lib/client/usage";
import type { Status } from "./Results";

/** How long the panel waits after the Worker URL changes (typing) before it asks. */
const SETTLE_MS = 500;

/**
 * The Worker mode's month to date: asked when the page enters the Worker mode (or
 * its URL changes) while it holds a token, and again after each Worker run ends.
 */
export function useMonthUsage(active: boolean, workerUrl: string, runStatus: Status): { view: UsageView; refresh: () => void } {
  const [view, setView] = useState<UsageView>({ state: "signed-out" });
  const abortRef = useRef<AbortController | null>(null);
  const lastStatus = useRef(runStatus);

  const refresh = useCallback(() => {
    abortRef.current?.abort();
    const token = heldDevToken();
    if (!token) {
      setView({ state: "signed-out" });
      return;
    }
    const controller = new AbortController();
    abortRef.current = controller;
    setView((v) => ({ state: "loading", usage: usageOf(v) }));
    fetchUsage(workerUrl, token, controller.signal).then(
      (usage) => {
        if (!controller.signal.aborted) setView({ state: "ok", usage });
      },
      (err: Error) => {
        if (!controller.signal.aborted) setView((v) => ({ state: "error", message: err.message, usage: usageOf(v) }));
      },
    );
  }, [workerUrl]);

  // Another Worker (or the mode entered): the numbers shown are not its; ask once the URL settles.
  useEffect(() => {
    if (!active) return;
    setView((v) => (v.state === "signed-out" ? v : { state: "loading" }));
    const timer = setTimeout(refresh, SETTLE_MS);
    return () => clearTimeout(timer);
  }, [active, refresh]);

  // A run has ended (done, partly done, failed, cancelled): it may have spent.
  useEffect(() => {
    const was = lastStatus.current;
    lastStatus.current = runStatus;
    if (active && was === "running" && runStatus !== "running") refresh();
  }, [active, runStatus, refresh]);

  useEffect(() => () => abortRef.current?.abort(), []);

  return { view, refresh };
}

/** "nothing left" once what is left shows as $0 (or the month went over). */
function leftText(usage: WorkerUsage): string {
  if (usage.left_usd === null) return "no budget";
  return Number(usage.left_usd.toFixed(4)) <= 0 ? "nothing left" : formatUsd(usage.left_usd);
}

/** "$0.0844", or "$0.0844 (1 call of unknown cost, counted at its estimate)". */
function rowCost(row: UsageRow): string {
  const calls = row.unknown_calls;
  if (calls === 0) return formatUsd(row.cost_usd);
  const which = calls === 1 ? "1 call of unknown cost, counted at its estimate" : `${calls} calls of unknown cost, counted at their estimate`;
  return `${formatUsd(row.cost_usd)} (${which})`;
}

function Numbers({ usage }: { usage: WorkerUsage }) {
  return (
    <>
      <dl className="usage__numbers">
        <dt>Spent</dt>
        <dd data-testid="usage-spent">{formatUsd(usage.spent_usd)}</dd>
        <dt>Budget</dt>
        <dd data-testid="usage-budget">{usage.budget_usd === null ? "no budget" : formatUsd(usage.budget_usd)}</dd>
        <dt>Left</dt>
        <dd data-testid="usage-left">{leftText(usage)}</dd>
        {(usage.unsettled_usd ?? 0) > 0 && (
          <>
            <dt>Unsettled</dt>
            <dd>{formatUsd(usage.unsettled_usd ?? 0)} of runs cut off, counted in full</dd>
          </>
        )}
        {usage.held_usd > 0 && (
          <>
            <dt>Held</dt>
            <dd>{formatUsd(usage.held_usd)} for runs under way</dd>
          </>
        )}
      </dl>
      {usage.by_provider.length === 0 ? (
        <p className="hint">No calls this month yet.</p>
      ) : (
        <table className="usage__table" data-testid="usage-rows">
          <thead>
            <tr>
              <th scope="col">Provider / model</th>
              <th scope="col">Images</th>
              <th scope="col">Calls</th>
              <th scope="col">Cost</th>
            </tr>
          </thead>
          <tbody>
            {usage.by_provider.map((r) => (
              <tr key={`${r.provider}/${r.model}`} data-provider={r.provider} data-model={r.model}>
                <th scope="row">
                  {r.provider}/{r.model}
                </th>
                <td>{r.images}</td>
                <td>{r.calls}</td>
                <td>{rowCost(r)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** The "This month" panel of the Worker mode. */
export function MonthUsage({ view, onRefresh }: { view: UsageView; onRefresh: () => void }) {
  const usage = usageOf(view);
  return (
    <div
      className="panel usage"
      data-testid="month-usage"
      data-state={view.state}
      data-spent-usd={usage?.spent_usd ?? ""}
      data-budget-usd={usage ? (usage.budget_usd ?? "none") : ""}
      data-left-usd={usage ? (usage.left_usd ?? "none") : ""}
    >
      <div className="usage__head">
        <h2>This month{usage ? ` (${usage.month}, UTC)` : ""}</h2>
        <button type="button" onClick={onRefresh} disabled={view.state === "signed-out" || view.state === "loading"}>
          Refresh
        </button>
      </div>
      <div aria-live="polite">
        {usage && <Numbers usage={usage} />}
        {view.state === "signed-out" && (
          <p className="hint">Your first Worker run signs this page in; the month&apos;s spending shows here then.</p>
        )}
        {view.state === "loading" && !usage && <p className="hint">Asking the Worker…</p>}
        {view.state === "error" && (
          <p className="hint usage__error" data-testid="usage-error">
            {usage ? "Not updated: " : "Could not load this month's usage: "}
            {view.message}
          </p>
        )}
      </div>
    </div>
  );
}
