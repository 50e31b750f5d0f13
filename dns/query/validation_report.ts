/**
 * How `dns/query.ts` shows a DNSSEC verdict: delv's one line (`; fully validated`, `; unsigned
 * answer`, `;; validation failed: …`) and, with `+trace`, the chain of trust step by step —
 * which key signed what, and why the next step is trusted.
 */
import type { Reporter } from "../../tcp/kit/report.ts";
import { type Validation, verdictLine } from "../dnssec/validator.ts";
import { edeName } from "../wire/ede.ts";

/** The exit status of a Bogus or Indeterminate answer (dig uses 0, 1, 8, 9 and 10). */
export const EXIT_BOGUS = 12;

/** The verdict as JSON fields (`--json`). */
export function validationFields(validation: Validation): Record<string, unknown> {
  return {
    verdict: validation.verdict,
    reason: validation.reason,
    ede: validation.ede,
    ede_name: validation.ede === undefined ? undefined : edeName(validation.ede),
    steps: validation.steps,
  };
}

/** Prints the verdict (and with `steps`, the chain of trust first). */
export function reportValidation(
  report: Reporter,
  validation: Validation,
  { steps = false, json = false }: { steps?: boolean; json?: boolean } = {},
): void {
  const fields = validationFields(validation);
  if (steps && !json) {
    report.info(";; Chain of trust:");
    for (const step of validation.steps) report.info(`;;   ${step}`);
  }
  report.info(verdictLine(validation), "validation", fields);
}

/** The exit status for a verdict: 0 Secure or Insecure, `EXIT_BOGUS` otherwise. */
export function verdictExitCode(validation: Validation): number {
  return validation.verdict === "bogus" || validation.verdict === "indeterminate" ? EXIT_BOGUS : 0;
}
