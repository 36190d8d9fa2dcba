// The .appups between the project built at an older git ref (or an older release) and the
// project now: for `beam-live appup --from` and the editor's Generate .appup; no node.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { detectProject } from '../compile/project';
import type { GeneratedAppup } from '../protocol';
import { appupHomes, appupInstructions } from '../upgrade/appup';
import { appupsBetween } from './appupFrom';
import { currentBuild, olderBuild } from './builds';
import { consultFile } from './consult';

export async function appupsSince(dir: string, from: string): Promise<GeneratedAppup[]> {
  const project = detectProject(dir);
  const older = await olderBuild(project, from);
  const newer = await currentBuild(project);
  return appupsBetween({
    project,
    from: older.what,
    older: older.apps,
    newer,
    // The project's own .appup, where it has one, for the modules it names.
    own: async (app, fromVsn) => {
      const file = appupHomes(project, app).map((d) => join(d, `${app}.appup`)).find((f) => existsSync(f));
      return file ? appupInstructions(consultFile(file), fromVsn) : new Map();
    },
  });
}
