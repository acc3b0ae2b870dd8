// The types a module author sees. Modules import these as types only:
//   import type { ModuleContext, Router } from '../../../shared/module-api.js';
import type { Router, Request, Response, NextFunction } from 'express';
import type { Logger } from 'pino';
import type { Manifest } from './manifest.js';
import type { ModuleDb } from './db.js';
import type { HubUser, ModuleAuth } from './runtime/auth.js';
import type { HubPageOptions } from './runtime/hub-layout.js';

export type { Router, Request, Response, NextFunction, Logger, Manifest, ModuleDb, HubUser, ModuleAuth, HubPageOptions };

export interface ModuleConfig {
  /** MODULES__<NAME>__<KEY> for this module only; `fallback` when unset. */
  get(key: string): string | undefined;
  get(key: string, fallback: string): string;
  /** "true"/"1"/"yes"/"on" → true, "false"/"0"/"no"/"off" → false, otherwise `fallback`. */
  bool(key: string, fallback: boolean): boolean;
  /** A number, or `fallback` when unset or not a number. */
  number(key: string, fallback: number): number;
}

export interface Safety {
  readOnly: boolean;
  dryRun: boolean;
  /**
   * Call before any write. Answers the request itself and returns false when a switch
   * blocks the write (READ_ONLY: 403 {"success":false,"message":"READ_ONLY mode"};
   * DRY_RUN: 200 {"success":true,"dry_run":true}); returns true when the write may go ahead.
   */
  allowWrite(res: Response, action: string): boolean;
}

export interface Tasks {
  /** Runs backend/tasks/<name>.ts|js in this module's worker pool. */
  run<T = unknown>(name: string, payload: unknown, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<T>;
}

/** What a module may say about one of its routes in the API docs (OpenAPI 3.0 objects). */
export interface RouteDoc {
  summary?: string;
  description?: string;
  operationId?: string;
  deprecated?: boolean;
  /** OpenAPI Parameter objects; `{param}` path parameters are declared automatically when left out. */
  parameters?: Record<string, unknown>[];
  /** An OpenAPI RequestBody object, e.g. `{ content: { 'application/json': { schema } } }`. */
  requestBody?: Record<string, unknown>;
  /** OpenAPI Responses, keyed by status code, e.g. `{ '200': { description: 'the note' } }`. */
  responses?: Record<string, Record<string, unknown>>;
}

/**
 * Annotates a route of backend/router.ts for GET /api/docs. Every route is listed without
 * this; annotations add summaries and schemas. `path` is relative to the router, as written
 * there: `ctx.docs('get', '/notes/:id', { summary: 'One note' })`.
 */
export type ApiDocs = (method: string, path: string, doc: RouteDoc) => void;

export interface ModuleContext {
  name: string;
  version: string;
  manifest: Manifest;
  config: ModuleConfig;
  safety: Safety;
  log: Logger;
  db: ModuleDb;
  tasks: Tasks;
  /** Renders templates/<view>(.ejs|.html) with EJS. */
  render(view: string, data?: Record<string, unknown>): Promise<string>;
  /**
   * Renders templates/<view> with `data` and answers `res` with it inside the hub's layout
   * (header with the hub's name, links to the user's modules and the dashboard, the signed-in
   * user, the hub's stylesheet /_hub/hub.css). The view is the page's body: no <html>/<head>.
   * Example: `await ctx.page(res, 'index', { notes }, { title: 'Notes' })`.
   */
  page(res: Response, view: string, data?: Record<string, unknown>, options?: HubPageOptions): Promise<void>;
  /** Describes a route for the merged API docs (optional: routes are found without it). */
  docs: ApiDocs;
  /**
   * An error to throw from a route: answered as `status` with `{"error": code, "message",
   * "details"}`, the hub's one error shape. `code` is the module's own (lower snake case);
   * `status` 400–599. Example: `throw ctx.error(409, 'duplicate', 'already stored', { id })`.
   */
  error(status: number, code: string, message: string, details?: Record<string, unknown>): Error & { status: number; code: string };
  /** `ctx.auth.require('write')`: route middleware answering 401/403 (req.user is set by the hub). */
  auth: ModuleAuth;
}

/** The default export of backend/router.ts and frontend/views.ts. */
export type ModuleRoutes = (router: Router, ctx: ModuleContext) => void | Promise<void>;

/** The default export of backend/tasks/<name>.ts. */
export type ModuleTask<In = unknown, Out = unknown> = (payload: In) => Out | Promise<Out>;
