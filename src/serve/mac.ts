// MAC addresses as machines send them: iPXE's ${net0/mac:hexhyp} (52-54-00-66-00-21), ${net0/mac}
// (52:54:00:66:00:21), upper or lower case, or bare hex. One form inside mkimage: lower-case colon.

const SEPARATED = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/;
const BARE = /^[0-9a-f]{12}$/;

/** The lower-case colon form of `raw`, or undefined when it is not a MAC address. */
export function normaliseMac(raw: string): string | undefined {
  const s = raw.trim().toLowerCase();
  if (SEPARATED.test(s)) return s.replace(/-/g, ':');
  if (BARE.test(s)) return s.match(/../g)!.join(':');
  return undefined;
}

/** iPXE's hexhyp form (52-54-00-66-00-21) of a normalised MAC: the form the chain script sends. */
export function hexhyp(mac: string): string {
  return mac.replace(/:/g, '-');
}
