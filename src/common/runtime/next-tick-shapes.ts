import { AsyncResource } from 'node:async_hooks';

/** The objects kept alive; never read. */
const kept: object[] = [];

/**
 * Keeps an object shaped like `process.nextTick`'s task objects alive for the life of the
 * process, so that V8 keeps building every task on its fast path.
 *
 * Node builds each task as an object literal with computed keys,
 * `{ [async_id_symbol]: …, [trigger_async_id_symbol]: …, callback, args }`. V8 builds such a
 * literal fast only while each of its property definitions has seen one object shape, and it
 * holds those shapes weakly: they live as long as some object that has them. A full garbage
 * collection that runs while no task is queued frees them; the next task is built with new
 * shapes, the definitions turn megamorphic, and from then on every `nextTick` (several per HTTP
 * request) defines its four properties in the V8 runtime: ~45k more instructions on a proxied
 * call, 20–25% of the whole, for as long as the process lives (docs/benchmarks.md).
 *
 * An object built the same way (the same keys in the same order) gets the same shapes and keeps
 * them alive. Its ids are fractional numbers, as Node's own ids are stored (boxed doubles), so
 * building it, even before any task, never changes how those fields are stored, which would
 * replace the shapes. The two symbols are the ones every `AsyncResource` carries. (Taking a real
 * task object from an async hook would do too, but enabling any hook turns off V8's promise fast
 * paths for good.)
 *
 * Call it as early as possible, before start-up's collections can free the shapes, and again once
 * the process is up, in case start-up replaced them; each call keeps one small object.
 */
export function keepNextTickShapes(): void {
  const symbols = Object.getOwnPropertySymbols(new AsyncResource('LatchkeyTickShape'));
  const asyncId = symbols.find((s) => s.description === 'async_id_symbol');
  const triggerAsyncId = symbols.find((s) => s.description === 'trigger_async_id_symbol');
  if (!asyncId || !triggerAsyncId) return; // another Node: nothing to keep
  kept.push({ [asyncId]: 0.5, [triggerAsyncId]: 0.5, callback() {}, args: undefined });
}
