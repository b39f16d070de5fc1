import { timingSafeEqual } from 'node:crypto'
import type { Static, TSchema } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { AllotError } from '../../domain/errors.js'
import type { AdminResource, AdminService } from '../../services/admin.service.js'
import {
  CampaignCreateSchema,
  CampaignPatchSchema,
  CampaignSchema,
  CategoryCreateSchema,
  CategoryPatchSchema,
  CategorySchema,
  ChannelCreateSchema,
  ChannelPatchSchema,
  ChannelSchema,
  campaignFromDto,
  campaignToDto,
  NumericIdParamsSchema,
  numericIdOf,
  PageQuerySchema,
  pageOf,
  StringIdParamsSchema,
  UnitCreateSchema,
  UnitPatchSchema,
  UnitSchema,
  unitToDto,
} from '../dto/admin.dto.js'
import { errorResponses } from '../dto/common.dto.js'
import { type InsightAdmin, insightRoutes } from './insight.routes.js'
import { type PostbackAdmin, postbackRoutes } from './postback.routes.js'
import { type ProfileAdmin, profileRoutes } from './profile.routes.js'

type Deps = {
  admin: AdminService
  adminToken: string
  postbacks?: PostbackAdmin
  profiles?: ProfileAdmin
  insight?: InsightAdmin
}

/** `/admin/…`: bearer-token CRUD for units, campaigns, categories and channels. */
export async function adminRoutes(
  app: FastifyInstance,
  { admin, adminToken, postbacks, profiles, insight }: Deps,
): Promise<void> {
  const expected = Buffer.from(`Bearer ${adminToken}`)
  app.addHook('onRequest', async (request) => {
    const given = Buffer.from(request.headers.authorization ?? '')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AllotError('Unauthorized', 'Authorization header must be "Bearer <ADMIN_TOKEN>"')
    }
  })

  const identity = <T>(x: T) => x
  registerResource(app, {
    path: '/units',
    idOf: numericIdOf,
    resource: admin.units,
    schemas: {
      create: UnitCreateSchema,
      patch: UnitPatchSchema,
      item: UnitSchema,
      params: NumericIdParamsSchema,
    },
    toDto: unitToDto,
    fromCreate: identity,
    fromPatch: identity,
  })
  registerResource(app, {
    path: '/campaigns',
    idOf: numericIdOf,
    resource: admin.campaigns,
    schemas: {
      create: CampaignCreateSchema,
      patch: CampaignPatchSchema,
      item: CampaignSchema,
      params: NumericIdParamsSchema,
    },
    toDto: campaignToDto,
    fromCreate: campaignFromDto,
    fromPatch: campaignFromDto,
  })
  registerResource(app, {
    path: '/categories',
    idOf: (params: { id: string }) => params.id,
    resource: admin.categories,
    schemas: {
      create: CategoryCreateSchema,
      patch: CategoryPatchSchema,
      item: CategorySchema,
      params: StringIdParamsSchema,
    },
    toDto: identity,
    fromCreate: (body: Record<string, unknown>) => ({ icon_url: '', sort_order: 0, ...body }),
    fromPatch: identity,
  })
  registerResource(app, {
    path: '/channels',
    idOf: numericIdOf,
    resource: admin.channels,
    schemas: {
      create: ChannelCreateSchema,
      patch: ChannelPatchSchema,
      item: ChannelSchema,
      params: NumericIdParamsSchema,
    },
    toDto: identity,
    fromCreate: (body: Record<string, unknown>) => ({ icon_url: '', ...body }),
    fromPatch: identity,
  })
  if (postbacks) await postbackRoutes(app, { postbacks })
  if (profiles) await profileRoutes(app, { profiles })
  if (insight) await insightRoutes(app, { insight })
}

type ResourceRoutes<T, Id> = {
  path: string
  // biome-ignore lint/suspicious/noExplicitAny: inputs are validated by the route schemas before they get here
  resource: AdminResource<T, Id, any, any>
  schemas: { create: TSchema; patch: TSchema; item: TSchema; params: TSchema }
  /** The resource id from the validated `:id`. */
  idOf: (params: never) => Id
  toDto: (item: T) => unknown
  // biome-ignore lint/suspicious/noExplicitAny: see above
  fromCreate: (body: any) => any
  // biome-ignore lint/suspicious/noExplicitAny: see above
  fromPatch: (body: any) => any
}

/** The five CRUD routes of one resource, each with its request and response schemas. */
function registerResource<T, Id>(app: FastifyInstance, r: ResourceRoutes<T, Id>): void {
  const { path, resource, schemas, toDto } = r
  const tags = [path.slice(1)]
  const idOf = (request: { params: unknown }) => r.idOf(request.params as never)

  app.get(
    path,
    {
      schema: {
        tags,
        querystring: PageQuerySchema,
        response: { 200: Type.Object({ items: Type.Array(schemas.item) }), ...errorResponses },
      },
    },
    async (request) => {
      return {
        items: (await resource.list(pageOf(request.query as Static<typeof PageQuerySchema>))).map(toDto),
      }
    },
  )
  app.get(
    `${path}/:id`,
    { schema: { tags, params: schemas.params, response: { 200: schemas.item, ...errorResponses } } },
    async (request) => toDto(await resource.get(idOf(request))),
  )
  app.post(
    path,
    { schema: { tags, body: schemas.create, response: { 201: schemas.item, ...errorResponses } } },
    async (request, reply) =>
      reply.status(201).send(toDto(await resource.create(r.fromCreate(request.body)))),
  )
  app.patch(
    `${path}/:id`,
    {
      schema: {
        tags,
        params: schemas.params,
        body: schemas.patch,
        response: { 200: schemas.item, ...errorResponses },
      },
    },
    async (request) => toDto(await resource.update(idOf(request), r.fromPatch(request.body))),
  )
  app.delete(
    `${path}/:id`,
    { schema: { tags, params: schemas.params, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await resource.remove(idOf(request))
      return reply.status(204).send()
    },
  )
}
