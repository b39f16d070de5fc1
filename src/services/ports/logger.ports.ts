/** Where services write what an operator needs to know (pino in the app, a no-op in tests). */
export type Logger = {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}
