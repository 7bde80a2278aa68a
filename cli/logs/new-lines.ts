/**
 * `outpost logs --follow` polls the newest lines of a log (the command channel
 * has no cursor: protocol.md §6.6); the new lines are what follows the longest
 * overlap of the previous excerpt's end with the current excerpt's start.
 * Pure. No overlap with a non-empty previous excerpt means more lines arrived
 * than one excerpt holds, or the container was restarted or recreated (a new
 * log): everything is new and `gap` says lines may be missing. Identical
 * consecutive lines are ambiguous without timestamps; the longest overlap
 * then prints too few rather than a line twice.
 */
export function newLines(previous: readonly string[], current: readonly string[]): { lines: string[]; gap: boolean } {
  for (let k = Math.min(previous.length, current.length); k > 0; k--) {
    let match = true;
    for (let i = 0; i < k; i++) {
      if (previous[previous.length - k + i] !== current[i]) {
        match = false;
        break;
      }
    }
    if (match) return { lines: current.slice(k), gap: false };
  }
  return { lines: [...current], gap: previous.length > 0 && current.length > 0 };
}

/** The lines of a logs command's text ('' is no line). */
export function splitLog(text: string): string[] {
  return text === '' ? [] : text.split('\n');
}
