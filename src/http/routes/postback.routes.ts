import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { AllotError } from '../../domain/errors.js'
import type { PostbackStatus } from '../../domain/postback.js'
import { NumericIdParamsSchema } from '../dto/admin.dto.js'
import { errorResponses } from '../dto/common.dto.js'
import { PostbackListQuerySchema, PostbackSchema } from '../dto/event.dto.js'
import { numericIdOf, pageOf } from '../presenters/admin.presenter.js'
import { type PostbackView, postbackToDto } from '../presenters/event.presenter.js'

/** The admin side of the postback outbox. */
export type PostbackAdmin = {
  list(status: PostbackStatus | undefined, limit: number, offset: number): Promise<PostbackView[]>
  get(id: number): Promise<PostbackView | undefined>
  retry(id: number): Promise<boolean>
}

/** `GET /admin/postbacks?status=…`, `POST /admin/postbacks/:id/retry` (registered inside the admin scope). */
export async function postbackRoutes(fastify: FastifyInstance, { postbacks }: { postbacks: PostbackAdmin }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/postbacks',
    {
      schema: {
        tags: ['postbacks'],
        querystring: PostbackListQuerySchema,
        response: { 200: Type.Object({ items: Type.Array(PostbackSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query
      const { limit, offset } = pageOf(q)
      return { items: (await postbacks.list(q.status, limit, offset)).map(postbackToDto) }
    },
  )
  app.post(
    '/postbacks/:id/retry',
    {
      schema: {
        tags: ['postbacks'],
        params: NumericIdParamsSchema,
        response: { 200: PostbackSchema, ...errorResponses },
      },
    },
    async (request) => {
      const id = numericIdOf(request.params)
      if (!(await postbacks.retry(id)))
        throw new AllotError('ResourceNotFound', `postback id ${id} does not exist`)
      const item = await postbacks.get(id)
      if (!item) throw new AllotError('ResourceNotFound', `postback id ${id} does not exist`)
      return postbackToDto(item)
    },
  )
}
