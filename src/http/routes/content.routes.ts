import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { ContentService } from '../../services/content.service.js'
import { errorResponses } from '../dto/common.dto.js'
import {
  CategoriesResponseSchema,
  ChannelsQuerySchema,
  ChannelsResponseSchema,
  ContentConfigFormSchema,
  ContentConfigQuerySchema,
  ContentConfigResponseSchema,
  ContentConfigSavedSchema,
} from '../dto/content.dto.js'
import { channelIdsFromQuery, channelsToDto } from '../presenters/content.presenter.js'

type Deps = { content: ContentService }

/** The SDK's content settings: `/api/content/config/`, `/api/content/channels/`, `/api/content/categories/`. */
export async function contentRoutes(fastify: FastifyInstance, { content }: Deps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const tags = ['sdk']
  app.get(
    '/api/content/config/',
    {
      schema: {
        tags,
        querystring: ContentConfigQuerySchema,
        response: { 200: ContentConfigResponseSchema, ...errorResponses },
      },
    },
    async (request): Promise<Static<typeof ContentConfigResponseSchema>> => {
      const { device_id } = request.query
      return { status: 'success', ...(await content.getConfig(device_id)) }
    },
  )
  app.post(
    '/api/content/config/',
    {
      schema: {
        tags,
        body: ContentConfigFormSchema,
        response: { 200: ContentConfigSavedSchema, ...errorResponses },
      },
    },
    async (request): Promise<Static<typeof ContentConfigSavedSchema>> => {
      const { device_id, type, config } = request.body
      await content.setConfig(device_id, type, config)
      return { message: 'success' }
    },
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
    async (request): Promise<Static<typeof ChannelsResponseSchema>> =>
      channelsToDto(content.channels(channelIdsFromQuery(request.query.ids))),
  )
  app.get(
    '/api/content/categories/',
    { schema: { tags, response: { 200: CategoriesResponseSchema, ...errorResponses } } },
    async (): Promise<Static<typeof CategoriesResponseSchema>> => ({
      status: 'success',
      categories: [...content.categories()],
    }),
  )
}
