import { Type } from '@sinclair/typebox'
import { INSTALLED_APPS_UPDATE_PERIOD } from '../../domain/sdk-v1.js'

const AppId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })

/** `POST /api/update_installed_apps/`, form-encoded (docs/architecture.md §W1, §W2). */
export const UpdateInstalledAppsFormSchema = Type.Object({
  ifa: Type.String({ minLength: 1, maxLength: 64, description: 'advertising id' }),
  app_id: Type.Optional(AppId),
  unit_id: Type.Optional(AppId),
  installed_apps: Type.String({
    minLength: 1,
    description:
      'standard base64 (line breaks ignored) of a zlib stream of package names, comma- or newline-separated',
  }),
})

/** v1 answered the period after which the SDK uploads again: a day, in seconds. */
export const UpdateInstalledAppsResponseSchema = Type.Object({
  update_period: Type.Literal(INSTALLED_APPS_UPDATE_PERIOD),
})
