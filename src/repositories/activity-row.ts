import type { ActivityItem, ActivityType } from '../domain/device.js'

/**
 * One stored activity item (a device_activity row, or a DynamoDB `act#` item: both hold type, campaign_id
 * and at) as the domain's ActivityItem. mysql2 may hand big integers back as strings, hence Number().
 */
export function activityFromRow(row: Record<string, unknown>): ActivityItem {
  return { type: row.type as ActivityType, campaign_id: Number(row.campaign_id), at: Number(row.at) }
}
