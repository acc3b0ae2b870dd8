// Leftovers of a test that never called stop(): every running test kit instance registers a
// synchronous cleanup here, and the process's 'exit' runs them all (kill the kernel, remove
// the temp folders, drop the throwaway database through a helper process), since nothing
// asynchronous runs at exit.
const pending = new Set<() => void>();
let hooked = false;

/** Registers `fn` to run at process exit; returns the function that unregisters it. */
export function atExit(fn: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const f of [...pending]) {
        try {
          f();
        } catch {
          // best effort: one failed cleanup must not keep the others from running
        }
      }
    });
  }
  pending.add(fn);
  return () => pending.delete(fn);
}
