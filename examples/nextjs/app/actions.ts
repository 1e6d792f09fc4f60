'use server';

// A server action reading the same auth object as the route handler.
import { auth } from '@reverify/server/nextjs';

/** Whether this request has a session, and whether it satisfies `strict` now. */
export async function sessionStatus() {
  const { isAuthenticated, has } = await auth();
  return { isAuthenticated, strict: has({ reverification: 'strict' }) };
}
