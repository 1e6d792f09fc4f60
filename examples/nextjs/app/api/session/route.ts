// What `auth()` sees for this request: signed in or not and why, and whether the session
// satisfies `strict` now. Answers GET and POST alike, so that a cross-site POST can be
// told apart from a missing token.
import { auth } from '@reverify/server/nextjs';

async function describe() {
  const { isAuthenticated, userId, error, has } = await auth();
  return Response.json({
    isAuthenticated,
    userId,
    error: error?.code ?? null,
    strict: has({ reverification: 'strict' }),
  });
}

export const GET = describe;
export const POST = describe;
