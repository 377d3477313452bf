/**
 * Text for a terminal. File names (and messages quoting them) can hold any byte but `/` and NUL:
 * `\x1b]0;…\x07` retitles the window, `\x1b[2J` clears the screen, and a lone U+009B (CSI) does
 * the same on terminals that honour C1 controls. Human output shows every C0 control, DEL and
 * every C1 control as `\xNN`; JSON output is left exact (JSON escapes them itself).
 */

/** Unicode's Cc: C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F). */
const CONTROL = /\p{Cc}/gu;
/** The same without the line feed, for messages whose lines are ours. */
const CONTROL_BUT_LINE_FEED = /(?!\n)\p{Cc}/gu;

const escapeControl = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/**
 * `text` with its control characters escaped. `keepLineFeeds` for a whole message that may span
 * lines (an error); a single value (a path) escapes them too, so a name cannot fake a line.
 */
export function terminalText(text: string, { keepLineFeeds = false } = {}): string {
  return text.replace(keepLineFeeds ? CONTROL_BUT_LINE_FEED : CONTROL, escapeControl);
}

/**
 * Template tag for human output: the literal parts are ours and kept as written (line feeds,
 * `\r`), every interpolated value goes through terminalText. `human\`  ${path}: ${reason}\n\``
 */
export function human(literals: TemplateStringsArray, ...values: unknown[]): string {
  return literals.reduce(
    (text, literal, i) => text + terminalText(String(values[i - 1])) + literal
  );
}
