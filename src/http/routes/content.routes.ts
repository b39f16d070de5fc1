import type { Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { ContentService } from '../../services/content.service.js'
import { errorResponses } from '../dto/common.dto.js'
import {
  CategoriesResponseSchema,
  ChannelsQuerySchema,
  ChannelsResponseSchema,
  ContentConfigChangeSchema,
  ContentConfigQuerySchema,
  ContentConfigResponseSchema,
} from '../dto/content.dto.js'

type Deps = { content: ContentService }

/** The SDK's content settings: `/api/content/config/`, `/api/content/categories/`, `/api/content/channels/`. */
export async function contentRoutes(app: FastifyInstance, { content }: Deps): Promise<void> {
  const tags = ['sdk']
  const configResponse = { 200: ContentConfigResponseSchema, ...errorResponses }
  app.get(
    '/api/content/config/',
    { schema: { tags, querystring: ContentConfigQuerySchema, response: configResponse } },
    async (request) => {
      const { device_id } = request.query as Static<typeof ContentConfigQuerySchema>
      return { code: 0, msg: 'ok', config: await content.getConfig(device_id) }
    },
  )
  app.post(
    '/api/content/config/',
    { schema: { tags, body: ContentConfigChangeSchema, response: configResponse } },
    async (request) => {
      const { device_id, type, id, enabled } = request.body as Static<typeof ContentConfigChangeSchema>
      return { code: 0, msg: 'ok', config: await content.setEnabled(device_id, type, id, enabled) }
    },
  )
  app.get(
    '/api/content/categories/',
    { schema: { tags, response: { 200: CategoriesResponseSchema, ...errorResponses } } },
    async () => ({ code: 0, msg: 'ok', categories: content.categories() }),
  )
  app.get(
    '/api/content/channels/',
    {
      schema: {
        tags,
        querystring: ChannelsQuerySchema,
        response: { 200: ChannelsResponseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { category } = request.query as Static<typeof ChannelsQuerySchema>
      return { code: 0, msg: 'ok', channels: content.channels(category) }
    },
  )
}
