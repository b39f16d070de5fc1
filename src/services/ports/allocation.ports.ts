import type { AdSource } from '../../domain/catalog.js'

/* Ports of the allocation feature: the upstream ad networks' transport (outbound JSON over HTTP). */

/** One ad from an upstream network, already validated. */
export type UpstreamAd = {
  source: string
  external_id: string
  title: string
  description: string
  image: string
  click_url: string
  impression_urls: string[]
  /** Revenue per thousand impressions as the network reports it; orders upstream ads. */
  ecpm: number
  revenue_type: AdSource['revenue_type']
}

/** What a source is told about the request. */
export type UpstreamQuery = {
  unit_id: number
  app_id: number
  device_id: number
  ifa?: string | undefined
  country?: string | undefined
  language?: string | undefined
  sex?: string | undefined
  year_of_birth?: number | undefined
  device_os?: number | undefined
  carrier?: string | undefined
  limit: number
}

/** Outbound JSON over HTTP (undici in production, MockAgent in tests). */
export type AdSourceTransport = {
  postJson(url: string, body: unknown, timeoutMs: number): Promise<{ status: number; body: unknown }>
}
