// Standard streams whose reader may close early (`mkimage plan worker | head -1`, a `pxe serve` log piped into a
// pager that quits): EPIPE is no error there.

/**
 * A writer to `stream` that drops what is left once the reader has gone (EPIPE), instead of dying of the error
 * event: the command runs to its end and exits with its own code (a render, a router apply or a server is never
 * cut off half-way, as dying on the signal would). Any other stream error is thrown as before.
 */
export function closedPipeTolerant(stream: NodeJS.WriteStream): (s: string) => void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  // a failed write destroys the stream at once; its 'error' event only comes on the next tick
  return (s) => void (stream.destroyed || stream.write(s));
}
