// beam-live relup: the relup between two built releases, made by OTP's systools:make_relup
// (never by hand): the .appup each changed application lacks is generated from the two
// builds and put into the new release's lib/APP-VSN/ebin first. No node is needed.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { decode } from '../beam/etf';
import { decodeReply } from '../runtime/replies';
import { Tuple, text, type Term } from '../beam/term';
import type { GeneratedAppup, Instruction } from '../protocol';
import { appupInstructions, listing } from '../upgrade/appup';
import { appupsBetween } from './appupFrom';
import { appsIn } from './builds';
import { ReleaseError } from './releaseError';
import { consultFile, evalErl } from './consult';
import { withReleases } from './tarball';

/** A release folder as mix release or relx builds it: its .rel, and its applications' vsns. */
export interface ReleaseDir {
  root: string;
  name: string;
  vsn: string;
  /** releases/VSN/NAME, the .rel without its extension, as systools takes it. */
  rel: string;
  apps: Map<string, string>;
  /** Who built it, which says how it boots: mix ships releases/VSN/elixir, relx does not. */
  tool: 'mix' | 'relx';
}

export function readRelease(root: string): ReleaseDir {
  const releases = join(root, 'releases');
  // releases/ also holds RELEASES, start_erl.data, COOKIE: only folders with a .rel count. A
  // release built over an older one keeps it beside: start_erl.data names the one it boots.
  let found = existsSync(releases) ? readdirSync(releases).flatMap((v) => listRel(join(releases, v))) : [];
  const boots = existsSync(join(releases, 'start_erl.data')) ? readFileSync(join(releases, 'start_erl.data'), 'utf8').trim().split(/\s+/)[1] : undefined;
  if (found.length > 1 && boots) found = found.filter((f) => dirname(f) === join(releases, boots));
  if (found.length !== 1) {
    throw new ReleaseError(
      found.length
        ? `${root} holds ${found.length} releases (${found.join(', ')}): give the folder of one built release.`
        : `${root} is not a release: no releases/VSN/NAME.rel. Give the folder mix release (_build/prod/rel/APP) or rebar3 release (_build/default/rel/NAME) built, or its tarball (NAME-VSN.tar.gz).`,
    );
  }
  const file = found[0]!;
  const [top] = consultFile(file);
  if (!(top instanceof Tuple) || !(top.elements[1] instanceof Tuple) || !Array.isArray(top.elements[3])) throw new ReleaseError(`${file} is not a release file ({release, {Name, Vsn}, {erts, Vsn}, Apps}).`);
  const [name, vsn] = top.elements[1].elements.map((t) => text(t) ?? '') as [string, string];
  const apps = new Map((top.elements[3] as Term[]).flatMap((a) => (a instanceof Tuple ? [[text(a.elements[0]) ?? '', text(a.elements[1]) ?? ''] as const] : [])));
  return { root, name, vsn, rel: file.slice(0, -'.rel'.length), apps, tool: existsSync(join(dirname(file), 'elixir')) ? 'mix' : 'relx' };
}

function listRel(dir: string): string[] {
  return listing(dir).filter((f) => f.endsWith('.rel')).map((f) => join(dir, f));
}

export interface RelupResult {
  ok: boolean;
  from: string;
  to: string;
  relup: string | null;
  /** The .appups generated into the new release (an application that ships its own keeps it). */
  appups: GeneratedAppup[];
  /** Every moved application's up instructions, generated or read from the appup it shipped with. */
  instructions: Array<{ app: string; ebin: string; modules: Array<{ module: string; instruction: Instruction; depMods?: string[] }> }>;
  warnings: string[];
  error: string | null;
}

/**
 * OLD and NEW are release folders or tarballs; a NEW tarball is packed again with the relup
 * and the .appups in it, the way release_handler:unpack_release wants it.
 */
export function makeRelup(oldPath: string, newPath: string): Promise<RelupResult> {
  return withReleases([oldPath, newPath], async ([older, newer]) => {
    const r = await relupBetween(older!.root, newer!.root);
    if (r.ok) newer!.repack();
    // Paths into a tarball's temporary folder would name nothing once it is gone.
    if (!newer!.tarball) return r;
    const inTar = (p: string) => `${newer!.tarball}:${relative(newer!.root, p)}`;
    return { ...r, relup: r.relup && inTar(r.relup), appups: r.appups.map((a) => ({ ...a, path: inTar(a.path) })), instructions: r.instructions.map((i) => ({ ...i, ebin: inTar(i.ebin) })) };
  });
}

/** The relup between two release folders, written into the newer one. */
export async function relupBetween(oldRoot: string, newRoot: string): Promise<RelupResult> {
  const older = readRelease(oldRoot);
  const newer = readRelease(newRoot);
  if (older.name !== newer.name) throw new ReleaseError(`${oldRoot} is release ${older.name} and ${newRoot} is ${newer.name}: a relup goes between two versions of one release.`);
  if (older.vsn === newer.vsn) throw new ReleaseError(`Both folders hold ${newer.name} ${newer.vsn}: bump the release version (the project's version:) and build the new release again.`);
  const ebin = (r: ReleaseDir, app: string) => join(r.root, 'lib', `${app}-${r.apps.get(app)}`, 'ebin');
  const changed = [...newer.apps.keys()].filter((a) => older.apps.has(a) && older.apps.get(a) !== newer.apps.get(a));
  // OTP's own applications ship their .appup; the rest get ours.
  const lacking = changed.filter((a) => !existsSync(join(ebin(newer, a), `${a}.appup`)));
  const appups = await appupsBetween({
    from: `${older.name} ${older.vsn}`,
    older: appsIn(lacking.map((a) => ebin(older, a))),
    newer: appsIn(lacking.map((a) => ebin(newer, a))),
    own: async () => new Map(),
  });
  for (const a of appups) writeFileSync(a.path, a.text);
  const instructions = changed.map((a) => {
    const made = appups.find((g) => g.app === a);
    const modules = made
      ? made.instructions ?? []
      : existsSync(join(ebin(newer, a), `${a}.appup`))
        ? [...appupInstructions(consultFile(join(ebin(newer, a), `${a}.appup`)), older.apps.get(a) ?? null)].map(([module, e]) => ({ module, instruction: e.instruction, ...(e.depMods ? { depMods: e.depMods } : {}) }))
        : [];
    return { app: a, ebin: ebin(newer, a), modules };
  });
  const r = runMakeRelup(newer.rel, older.rel, [join(newRoot, 'lib', '*', 'ebin'), join(oldRoot, 'lib', '*', 'ebin')], join(newRoot, 'releases', newer.vsn));
  return { from: older.vsn, to: newer.vsn, appups, instructions, ...r, relup: r.ok ? join(newRoot, 'releases', newer.vsn, 'relup') : null };
}

const MAKE_RELUP = `
  Env = fun(K) -> os:getenv(K) end,
  Path = string:split(Env("BEAM_LIVE_PATH"), "\\n", all),
  Fmt = fun(M, W, F) -> unicode:characters_to_binary(try M:F(W) catch _:_ -> io_lib:format("~tp", [W]) end) end,
  R = case systools:make_relup(Env("BEAM_LIVE_NEW"), [Env("BEAM_LIVE_OLD")], [Env("BEAM_LIVE_OLD")],
                               [{path, Path}, {outdir, Env("BEAM_LIVE_OUT")}, silent, no_warn_sasl]) of
        {ok, _Relup, Mod, Ws} -> #{ok => true, warnings => [Fmt(Mod, W, format_warning) || W <- Ws]};
        {error, Mod, E} -> #{ok => false, warnings => [], error => Fmt(Mod, E, format_error)}
      end,
  io:put_chars(base64:encode(term_to_binary(R))),
  halt().`;

/** systools:make_relup in an erl of the user's OTP; its warnings and errors as it formats them. */
function runMakeRelup(newRel: string, oldRel: string, path: string[], out: string): { ok: boolean; warnings: string[]; error: string | null } {
  const stdout = evalErl(MAKE_RELUP, { BEAM_LIVE_NEW: newRel, BEAM_LIVE_OLD: oldRel, BEAM_LIVE_PATH: path.join('\n'), BEAM_LIVE_OUT: out }, 'systools:make_relup did not run');
  const made = decodeReply<{ ok: boolean; warnings: string[]; error?: string }>(decode(Buffer.from(stdout, 'base64')));
  return { ok: made.ok, warnings: made.warnings.map((w) => w.trim()), error: made.error?.trim() ?? null };
}
