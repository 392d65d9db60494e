// Loaded into Latchkey (`node --expose-gc --import`) when the many-connections mode runs: on
// SIGUSR2 it runs full garbage collections, so that /metrics then reads the live heap. It changes
// nothing about how requests are served.
process.on('SIGUSR2', () => {
  globalThis.gc();
  globalThis.gc();
});
