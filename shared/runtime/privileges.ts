// The child's side of the OS wall: become the module's own user before its code loads.
// A spare child starts as the kernel's user (root) so it can be any module; the switch is
// one-way, and checked: a child that could still regain root or signal its kernel refuses
// to load the module at all (issue 11, items 1-3).

/**
 * Drops to `runAs` (setgroups([]), setgid, setuid, in that order), then verifies the drop:
 * setuid(0) must fail and the kernel (ppid) must be unsignalable (EPERM). Throws an Error
 * naming what still holds; the caller reports load_failed and exits.
 */
export function dropPrivileges(runAs: { uid: number; gid: number }): void {
  process.setgroups!([]);
  process.setgid!(runAs.gid);
  process.setuid!(runAs.uid);
  if (process.getuid!() !== runAs.uid || process.geteuid!() !== runAs.uid || process.getgid!() !== runAs.gid || process.getegid!() !== runAs.gid) {
    throw new Error(`privilege drop did not take: uid ${process.getuid!()}/${process.geteuid!()}, gid ${process.getgid!()}/${process.getegid!()}`);
  }
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    // EPERM: as it must be
  }
  if (regained) throw new Error('privilege drop failed: the child could become root again');
  try {
    process.kill(process.ppid, 0);
    throw new Error('privilege drop failed: the child can still signal the kernel');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
  }
}
