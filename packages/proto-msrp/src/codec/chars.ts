/** True when `s` holds a control byte (0x00-0x1f, 0x7f); a tab is allowed when `tab` is true. */
export function hasControl(s: string, tab = true): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && !(tab && c === 9)) || c === 0x7f) return true;
  }
  return false;
}

/** True when `s` holds whitespace (space, tab) or a control byte. */
export function hasSpaceOrControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}
