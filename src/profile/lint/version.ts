// Loose version numbers as users write them in package pins: "1.29.2", "v1.29.2", "1.29.2-150500.1.1" (rpm),
// "1.29.2-1.1" (deb), "3:24.0.7-1.el9" (rpm epoch), "5:24.0.7-1~ubuntu.22.04~jammy" (deb epoch).

/** The leading numeric components, e.g. "3:24.0.7-1.el9" -> [24, 0, 7]; `undefined` if there are none. */
export function parseVersion(text: string): number[] | undefined {
  const m = /^(?:\d+:)?v?(\d+(?:\.\d+)*)/.exec(text.trim());
  return m?.[1] === undefined ? undefined : m[1].split('.').map(Number);
}

/** Negative, zero or positive like a sort comparator; missing components count as 0. */
export function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** "1.29.2-150500.1.1" -> "1.29.2": the upstream version without epoch, "v" or distro release. */
export function upstreamVersion(text: string): string | undefined {
  return parseVersion(text)?.join('.');
}

/** "1.29.2" -> "1.29" */
export function minorOf(text: string): string | undefined {
  const v = parseVersion(text);
  return v === undefined || v.length < 2 ? undefined : `${v[0]}.${v[1]}`;
}
