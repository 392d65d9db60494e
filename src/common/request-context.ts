/**
 * Who is acting and under which request id, for the length of one HTTP request or one background
 * job: what events record as `actor` and `requestId` without every service passing it along.
 * Built on AsyncLocalStorage (a public Node API): the HTTP middleware opens a context per request,
 * the API auth guard names the actor once it knows the caller, and background jobs run inside
 * `RequestContext.system(component, …)`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type ActorKind = 'user' | 'oauth_app' | 'end_user' | 'system';

export interface Actor {
  kind: ActorKind;
  /** User id, OAuth App id, the developer's end-user id, or the system component's name. */
  id: string;
}

export interface RequestContextState {
  requestId: string | null;
  actor: Actor | null;
}

const storage = new AsyncLocalStorage<RequestContextState>();

export const RequestContext = {
  /** Runs `fn` in a new context (an HTTP request). */
  run<T>(state: RequestContextState, fn: () => T): T {
    return storage.run(state, fn);
  },

  /** Runs `fn` as a system component (the scheduler, webhook delivery, a purge). */
  system<T>(component: string, fn: () => T): T {
    return storage.run({ requestId: null, actor: { kind: 'system', id: component } }, fn);
  },

  current(): RequestContextState | undefined {
    return storage.getStore();
  },

  /** Names the actor of the current context (the API auth guard, once it knows the caller). */
  setActor(actor: Actor): void {
    const state = storage.getStore();
    if (state) state.actor = actor;
  },
};
