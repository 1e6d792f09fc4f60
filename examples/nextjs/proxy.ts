// Logs every request to the transfer route before it runs, one line each on the server's
// standard output (the end-to-end test counts them). The route itself is the
// announcement's handler, untouched.
import type { NextRequest } from 'next/server';
import { NextResponse } from 'next/server';

export function proxy(request: NextRequest) {
  console.log(`transfer-route ${request.method} ${request.nextUrl.pathname}`);
  return NextResponse.next();
}

export const config = { matcher: '/api/transfer' };
