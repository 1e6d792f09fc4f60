import { auth, reverificationErrorResponse } from '@reverify/server/nextjs'

export async function POST() {
  const { has } = await auth()
  if (!has({ reverification: 'strict' })) return reverificationErrorResponse('strict')
  return new Response('success')
}
