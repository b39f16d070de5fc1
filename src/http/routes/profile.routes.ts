import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { DeviceProfile } from '../../domain/device.js'
import { AllotError } from '../../domain/errors.js'
import { NumericIdParamsSchema } from '../dto/admin.dto.js'
import { errorResponses } from '../dto/common.dto.js'
import { numericIdOf, profileToDto } from '../presenters/admin.presenter.js'

/** The admin side of device profiles (the embedded default has no other way to set them). */
export type ProfileAdmin = {
  getProfile(deviceId: number): Promise<DeviceProfile | undefined>
  putProfile(profile: DeviceProfile): Promise<void>
  clock(): number
}

const ProfileSchema = Type.Object({
  device_id: Type.Integer(),
  category_scores: Type.Record(Type.String({ maxLength: 64 }), Type.Number({ minimum: -1e6, maximum: 1e6 })),
  updated_at: Type.String(),
})
const ProfileBodySchema = Type.Object(
  {
    category_scores: Type.Record(
      Type.String({ minLength: 1, maxLength: 64 }),
      Type.Number({ minimum: -1e6, maximum: 1e6 }),
      {
        maxProperties: 200,
        description: 'affinity per content category id; higher = more interested',
      },
    ),
  },
  { additionalProperties: false },
)

/** `GET|PUT /admin/devices/:id/profile` (registered inside the admin scope). */
export async function profileRoutes(fastify: FastifyInstance, { profiles }: { profiles: ProfileAdmin }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/devices/:id/profile',
    {
      schema: {
        tags: ['devices'],
        params: NumericIdParamsSchema,
        response: { 200: ProfileSchema, ...errorResponses },
      },
    },
    async (request) => {
      const id = numericIdOf(request.params)
      const profile = await profiles.getProfile(id)
      if (!profile) throw new AllotError('ResourceNotFound', `device id ${id} has no profile`)
      return profileToDto(profile)
    },
  )
  app.put(
    '/devices/:id/profile',
    {
      schema: {
        tags: ['devices'],
        params: NumericIdParamsSchema,
        body: ProfileBodySchema,
        response: { 200: ProfileSchema, ...errorResponses },
      },
    },
    async (request) => {
      const id = numericIdOf(request.params)
      const { category_scores } = request.body
      const profile = { device_id: id, category_scores, updated_at: profiles.clock() }
      await profiles.putProfile(profile)
      return profileToDto(profile)
    },
  )
}
