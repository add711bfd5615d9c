/**
 * The single colour decision of the CLI: colour only when the stream is a TTY, `NO_COLOR`
 * is unset or empty, `TERM` is not `dumb`, and `--no-color` was not given. `FORCE_COLOR`
 * (non-zero) turns it on regardless, as most tools do.
 */

/** Inputs of the colour decision, injectable for tests. */
export interface ColorInputs {
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  flag: boolean;
}

/** Whether to emit ANSI colour. */
export function useColor({ isTTY, env, flag }: ColorInputs): boolean {
  if (!flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  if (env.FORCE_COLOR === "0") return false;
  if (env.TERM === "dumb") return false;
  return isTTY;
}

/** A tiny palette that becomes identity functions when colour is off. */
export interface Palette {
  dim(text: string): string;
  bold(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const wrap = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;

/** Builds the palette for a colour decision. */
export function palette(enabled: boolean): Palette {
  if (!enabled) {
    const id = (text: string) => text;
    return { dim: id, bold: id, red: id, green: id, yellow: id, cyan: id };
  }
  return { dim: wrap(2, 22), bold: wrap(1, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39) };
}
