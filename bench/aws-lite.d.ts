// @aws-lite/dynamodb ships no types (they live in @aws-lite/dynamodb-types); the bench calls two methods.
declare module '@aws-lite/dynamodb' {
  const plugin: unknown
  export default plugin
}
