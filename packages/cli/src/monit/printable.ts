/** Characters kept of a line: more than any terminal is wide. */
const LINE_MAX = 1000;

/**
 * `text` safe to draw: a child's stderr (and what muxd says of it) is
 * hostile, and its escape sequences would move the cursor or clear monit's
 * screen, so control characters are shown as `�` (tabs as a space), and a
 * line is cut at 1000 characters.
 */
export function printable(text: string): string {
  return text
    .slice(0, LINE_MAX)
    .replace(/\t/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
}
