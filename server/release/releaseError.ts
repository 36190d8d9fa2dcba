/** What the release commands refuse or fail with: the message names the cause and what to do. */
export class ReleaseError extends Error {
  override name = 'ReleaseError';
}
