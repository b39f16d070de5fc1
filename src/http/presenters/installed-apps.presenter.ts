import { Buffer } from 'node:buffer'
import { inflateSync } from 'node:zlib'
import { AllotError } from '../../domain/errors.js'
import { parsePackageList } from '../../domain/installed-apps.js'

/** Decompressed uploads larger than this are refused (a small zlib stream can inflate enormously). */
const MAX_INFLATED_BYTES = 256 * 1024

/** v1's rule: the app id is `app_id` when positive, else `unit_id`; neither is a 400. */
export function appIdOf(form: { app_id?: number | undefined; unit_id?: number | undefined }): number {
  const appId = form.app_id && form.app_id > 0 ? form.app_id : (form.unit_id ?? 0)
  if (appId <= 0) throw new AllotError('InvalidField', 'body.app_id (or body.unit_id) is required and not 0')
  return appId
}

/** The package names inside `installed_apps`: base64 → zlib → list; anything malformed is a 400. */
export function packagesFromUpload(installedApps: string): string[] {
  // Android's Base64.DEFAULT breaks lines every 76 characters; Go's decoder skipped CR and LF too.
  const text = installedApps.replace(/[\r\n]/g, '')
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new AllotError('InvalidField', 'body.installed_apps is not standard, padded base64')
  }
  let inflated: Buffer
  try {
    inflated = inflateSync(Buffer.from(text, 'base64'), { maxOutputLength: MAX_INFLATED_BYTES })
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new AllotError(
        'InvalidField',
        `body.installed_apps inflates to more than ${MAX_INFLATED_BYTES / 1024} KiB`,
      )
    }
    throw new AllotError('InvalidField', 'body.installed_apps is not a zlib stream')
  }
  return parsePackageList(inflated.toString('utf8'))
}
