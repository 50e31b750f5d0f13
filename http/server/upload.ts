/**
 * PUT and DELETE under /upload/ (`--upload DIR`): a PUT stores the body as a file, a DELETE
 * removes one. A new file is written beside its target and renamed over it, so readers see the
 * old file or the new one, never half of either. Whatever the file system refuses is a status
 * (409, 403, 414, 507…), never a crash: any name can be asked for.
 */
import { reasonPhrase } from "../core/status.ts";
import { because, text } from "./response.ts";
import { allowFor, type Site } from "./site.ts";
import { errorCode, isInside } from "./static_files.ts";
import type { HttpRequest, HttpResponse } from "./types.ts";

/** Statuses for a failed PUT or DELETE, by the file system's error code (else 500). */
const UPLOAD_ERROR_STATUS: Readonly<Record<string, number>> = {
  ENAMETOOLONG: 414,
  ENOENT: 409,
  ENOTDIR: 409,
  EISDIR: 409,
  ELOOP: 409,
  EEXIST: 409,
  EINVAL: 400,
  EACCES: 403,
  EPERM: 403,
  EROFS: 403,
  ENOSPC: 507,
  EDQUOT: 507,
  EFBIG: 413,
  EMFILE: 503,
  ENFILE: 503,
};

/** The answer to a PUT or DELETE of `segments` (the path after /upload/). */
export async function upload(
  site: Site,
  request: HttpRequest,
  segments: string[],
): Promise<HttpResponse> {
  if (!site.uploadRoot || segments.length === 0) {
    return because(
      text(405, "Method Not Allowed", [["Allow", allowFor(site, request.path)]]),
      `405: ${request.method} needs --upload DIR and a file name under /upload/`,
    );
  }
  try {
    return await store(request, site.uploadRoot, segments);
  } catch (error) {
    const code = errorCode(error);
    if (code === undefined) throw error;
    const status = UPLOAD_ERROR_STATUS[code] ?? 500;
    return because(
      text(status, reasonPhrase(status)),
      `${status}: ${request.method} ${request.path} failed (${code})`,
    );
  }
}

/** PUT or DELETE of `segments` under the upload directory (file-system errors are thrown). */
async function store(
  request: HttpRequest,
  uploadRoot: string,
  segments: string[],
): Promise<HttpResponse> {
  const parent = await Deno.realPath(`${uploadRoot}/${segments.slice(0, -1).join("/")}`).catch(
    (error) => {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return undefined;
      }
      throw error;
    },
  );
  if (!parent || !isInside(uploadRoot, parent)) {
    return because(text(409, "Conflict: no such directory"), `409: no such upload directory`);
  }
  const name = segments[segments.length - 1];
  const target = `${parent}/${name}`;
  const existing = await Deno.lstat(target).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  if (existing && !existing.isFile) {
    return because(text(409, "Conflict: not a regular file"), "409: not a regular file");
  }
  if (request.method === "DELETE") {
    if (!existing) return because(text(404, "Not Found"), `404: no upload ${request.path}`);
    await Deno.remove(target);
    return because({ status: 204 }, `204: DELETE removed ${request.path}`);
  }
  // The temporary name does not grow with the target's, so any name the system takes works.
  const temp = `${parent}/.upload-${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeFile(temp, request.body, { createNew: true });
    await Deno.rename(temp, target);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  return existing ? because({ status: 204 }, `204: PUT replaced ${request.path}`) : because(
    text(201, "Created", [["Location", request.path]]),
    `201: PUT stored ${request.path}`,
  );
}
