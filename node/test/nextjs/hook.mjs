// Module hook for the Next.js adapter's tests: `next/headers` (which only a Next app
// provides) resolves to headers.mjs, the request headers of the current test.
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'next/headers') {
    return { url: new URL('./headers.mjs', import.meta.url).href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
