import { isFailure, isJsonObject } from '@muxd/protocol';
import type { JsonObject, JsonRpcNotification, JsonRpcResponse } from '@muxd/protocol';
import type { ClientSession } from './clientSession.js';
import type { Clock } from './clock.js';
import type { IdKey } from './idKey.js';

const TERMINAL_TASK_STATUSES = new Set(['completed', 'failed', 'cancelled']);
/** Status of a task whose creating answer has not arrived yet is held this long, for this many tasks, this many notices each. */
const EARLY_STATUS_MS = 30_000;
const EARLY_STATUS_TASKS = 64;
const EARLY_STATUS_PER_TASK = 16;

/** The task a task-augmented request's answer created, if any. */
export function createdTaskId(result: JsonObject): string | undefined {
  const task = result['task'];
  return isJsonObject(task) && typeof task['taskId'] === 'string' ? task['taskId'] : undefined;
}

/**
 * Who owns each task (the client whose request created it), so that only
 * its owner sees its status and may get, cancel or list it; and the
 * progress token each task keeps alive until it ends.
 */
export class TaskTable {
  readonly #clock: Clock;
  /** Closes the progress route a task kept alive. */
  readonly #releaseToken: (key: IdKey) => void;
  readonly #owners = new Map<string, ClientSession>();
  /** Task status the server sent before the answer that created the task (it does). */
  readonly #early = new Map<string, { at: number; notifications: JsonRpcNotification[] }>();
  /** Upstream progress token kept alive by each task. */
  readonly #tokens = new Map<string, IdKey>();

  constructor(clock: Clock, releaseToken: (key: IdKey) => void) {
    this.#clock = clock;
    this.#releaseToken = releaseToken;
  }

  owner(taskId: string): ClientSession | undefined {
    return this.#owners.get(taskId);
  }

  /**
   * An answer created `taskId` for `client`: it owns the task from now on,
   * and `token` (if the request had one) lives as long as the task. Returns
   * the status notices held for it, to deliver after the answer.
   */
  created(taskId: string, client: ClientSession, token: IdKey | undefined): JsonRpcNotification[] {
    if (token !== undefined) this.#tokens.set(taskId, token);
    this.#owners.set(taskId, client);
    client.tasks.add(taskId);
    const held = this.#early.get(taskId);
    this.#early.delete(taskId);
    return held?.notifications ?? [];
  }

  /** Delivers a status notice to its task's owner (held if the owner is not known yet); a final one ends the task. */
  status(notification: JsonRpcNotification): void {
    const taskId = notification.params?.['taskId'];
    if (typeof taskId !== 'string') return;
    const client = this.#owners.get(taskId);
    if (!client) {
      this.#hold(taskId, notification);
      return;
    }
    this.deliver(client, taskId, notification);
  }

  /** Sends one status notice to the owner; a final status ends the task. */
  deliver(client: ClientSession, taskId: string, notification: JsonRpcNotification): void {
    client.send(notification);
    if (TERMINAL_TASK_STATUSES.has(String(notification.params?.['status']))) this.#end(taskId);
  }

  /** `tasks/list` as one client may see it: its own tasks only. */
  filterList(client: ClientSession, response: JsonRpcResponse): JsonRpcResponse {
    if (isFailure(response) || !Array.isArray(response.result['tasks'])) return response;
    const tasks = response.result['tasks'].filter((task) => isJsonObject(task) && typeof task['taskId'] === 'string' && this.#owners.get(task['taskId']) === client);
    return { ...response, result: { ...response.result, tasks } };
  }

  /** The client left: its tasks are nobody's, and their progress routes close. */
  forgetClient(client: ClientSession): void {
    for (const taskId of client.tasks) {
      this.#owners.delete(taskId);
      this.#end(taskId);
    }
  }

  #end(taskId: string): void {
    const token = this.#tokens.get(taskId);
    if (token !== undefined) this.#releaseToken(token);
    this.#tokens.delete(taskId);
  }

  /** Keeps a status for a task nobody owns yet, bounded in tasks, notices and time. */
  #hold(taskId: string, notification: JsonRpcNotification): void {
    const now = this.#clock.now();
    for (const [id, held] of this.#early) {
      if (now - held.at > EARLY_STATUS_MS || this.#early.size >= EARLY_STATUS_TASKS) this.#early.delete(id);
    }
    const held = this.#early.get(taskId);
    if (held) {
      held.notifications.push(notification);
      // A server repeating itself about a task nobody owns keeps only its latest words.
      if (held.notifications.length > EARLY_STATUS_PER_TASK) held.notifications.shift();
    } else {
      this.#early.set(taskId, { at: now, notifications: [notification] });
    }
  }
}
