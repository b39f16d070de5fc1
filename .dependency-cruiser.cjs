/** Layer rules (docs/architecture.md, "Layers"), enforced in CI: imports only point down. */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'lib-is-the-floor',
      comment: 'lib/ holds generic data structures and algorithms: it imports nothing from src/ but lib/',
      severity: 'error',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'domain-is-pure',
      comment: 'domain/ imports nothing from src/ but domain/ and lib/',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: ['^src/domain/', '^src/lib/'] },
    },
    {
      name: 'ports-are-declarations',
      comment: 'services/ports/ declares what adapters implement, in domain terms: it imports only domain/, lib/ and ports',
      severity: 'error',
      from: { path: '^src/services/ports/' },
      to: { path: '^src/', pathNot: ['^src/services/ports/', '^src/domain/', '^src/lib/'] },
    },
    {
      name: 'services-stay-above-adapters',
      comment: 'services/ never imports repositories/, infra/ or http/',
      severity: 'error',
      from: { path: '^src/services/' },
      to: { path: '^src/(repositories|infra|http)/' },
    },
    {
      name: 'http-does-not-touch-adapters',
      comment: 'routes talk to services, never to repositories or infrastructure',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(repositories|infra)/' },
    },
    {
      name: 'dto-holds-schemas-only',
      comment:
        'http/dto/ holds the wire shapes (TypeBox schemas and their types); mapping them to and from the domain is http/presenters/ work, so dto/ imports only dto/ and domain/ vocabularies',
      severity: 'error',
      from: { path: '^src/http/dto/' },
      to: { path: '^src/', pathNot: ['^src/http/dto/', '^src/domain/'] },
    },
    {
      name: 'adapters-only-from-composition-root',
      comment:
        'only the composition roots (files directly in src/, and the steps of src/app.ts in src/composition/) wire adapters; repositories may use infra',
      severity: 'error',
      from: {
        path: '^src/',
        pathNot: ['^src/[^/]+\\.ts$', '^src/composition/', '^src/repositories/', '^src/infra/'],
      },
      to: { path: '^src/(repositories|infra)/' },
    },
    {
      name: 'repositories-not-from-infra',
      comment: 'infra/ is the bottom layer of the adapters',
      severity: 'error',
      from: { path: '^src/infra/' },
      to: { path: '^src/(repositories|services|http)/' },
    },
    {
      name: 'repositories-below-services',
      comment: 'repositories map rows to domain types; they satisfy service ports structurally',
      severity: 'error',
      from: { path: '^src/repositories/' },
      to: { path: '^src/(services|http)/' },
    },
    {
      name: 'composition-only-from-app',
      comment: 'the composition steps are called by src/app.ts alone; nothing below them knows they exist',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/app\\.ts$', '^src/composition/'] },
      to: { path: '^src/composition/', pathNot: '^src/composition/demo-data\\.ts$' },
    },
    {
      name: 'demo-data-only-from-roots',
      comment: 'the demo catalog is seeded by the composition (catalog module) and by src/migrate.ts alone',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/migrate\\.ts$', '^src/composition/'] },
      to: { path: '^src/composition/demo-data\\.ts$' },
    },
    {
      name: 'config-is-a-leaf',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/config/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
}
