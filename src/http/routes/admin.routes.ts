import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Static, TSchema } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
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
  NumericIdParamsSchema,
  PageQuerySchema,
  StringIdParamsSchema,
  UnitCreateSchema,
  UnitPatchSchema,
  UnitSchema,
} from '../dto/admin.dto.js'
import { errorResponses } from '../dto/common.dto.js'
import {
  campaignFromDto,
  campaignToDto,
  numericIdOf,
  pageOf,
  unitToDto,
} from '../presenters/admin.presenter.js'

/** CRUD for units, campaigns, categories and channels (registered inside the admin scope). */
export async function catalogAdminRoutes(fastify: FastifyInstance, { admin }: { admin: AdminService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

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
    fromCreate: (body) => ({ icon_url: '', sort_order: 0, ...body }),
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
    fromCreate: (body) => ({ icon_url: '', ...body }),
    fromPatch: identity,
  })
}

/** One admin resource: its service, its schemas, and the mappings between them (typed by the schemas). */
type ResourceRoutes<
  T,
  Id,
  Input,
  Patch,
  C extends TSchema,
  P extends TSchema,
  I extends TSchema,
  K extends TSchema,
> = {
  path: string
  resource: AdminResource<T, Id, Input, Patch>
  schemas: { create: C; patch: P; item: I; params: K }
  /** The resource id from the validated `:id`. */
  idOf: (params: Static<K>) => Id
  toDto: (item: T) => Static<I>
  fromCreate: (body: Static<C>) => Input & { id?: Id }
  fromPatch: (body: Static<P>) => Patch
}

/** The five CRUD routes of one resource, each with its request and response schemas. */
function registerResource<
  T,
  Id,
  Input,
  Patch,
  C extends TSchema,
  P extends TSchema,
  I extends TSchema,
  K extends TSchema,
>(app: FastifyInstance, r: ResourceRoutes<T, Id, Input, Patch, C, P, I, K>): void {
  // The schemas are generic here, so the route generics carry their static types (no casts).
  type Page = { Querystring: Static<typeof PageQuerySchema> }
  type One = { Params: Static<K> }
  type Create = { Body: Static<C> }
  type Change = { Params: Static<K>; Body: Static<P> }
  const { path, resource, schemas, toDto } = r
  const tags = [path.slice(1)]

  app.get<Page>(
    path,
    {
      schema: {
        tags,
        querystring: PageQuerySchema,
        response: { 200: Type.Object({ items: Type.Array(schemas.item) }), ...errorResponses },
      },
    },
    async (request) => ({ items: (await resource.list(pageOf(request.query))).map(toDto) }),
  )
  app.get<One>(
    `${path}/:id`,
    { schema: { tags, params: schemas.params, response: { 200: schemas.item, ...errorResponses } } },
    async (request) => toDto(await resource.get(r.idOf(request.params))),
  )
  app.post<Create>(
    path,
    { schema: { tags, body: schemas.create, response: { 201: schemas.item, ...errorResponses } } },
    async (request, reply) =>
      reply.status(201).send(toDto(await resource.create(r.fromCreate(request.body)))),
  )
  app.patch<Change>(
    `${path}/:id`,
    {
      schema: {
        tags,
        params: schemas.params,
        body: schemas.patch,
        response: { 200: schemas.item, ...errorResponses },
      },
    },
    async (request) => toDto(await resource.update(r.idOf(request.params), r.fromPatch(request.body))),
  )
  app.delete<One>(
    `${path}/:id`,
    { schema: { tags, params: schemas.params, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await resource.remove(r.idOf(request.params))
      return reply.status(204).send()
    },
  )
}
