/**
 * The layout's rules, checked by `npm run lint` (dependency-cruiser): no import cycles at all,
 * type-only imports included (a cycle of types is still two modules that cannot be understood,
 * or moved, one without the other).
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycle, type-only imports included.',
      severity: 'error',
      // Prisma's generated client is not ours to arrange.
      from: { pathNot: '^src/generated/' },
      to: { circular: true },
    },
    {
      name: 'infrastructure-below-modules',
      comment: 'Infrastructure (transport, pub/sub, presence, storage, security…) serves the modules and never imports one: a module gives it what it needs.',
      severity: 'error',
      // The GraphQL context (the services) and schema are where modules are put together.
      from: { path: '^src/(auth|config|db|graphql|observability|pubsub|realtime|redis|security|storage|transport)/', pathNot: '^src/graphql/(context|schema)[.]ts$' },
      to: { path: '^src/modules/' },
    },
    {
      name: 'shim-calls-graphql',
      comment: 'The legacy shim translates legacy calls into GraphQL operations: it reaches no module directly.',
      severity: 'error',
      from: { path: '^src/compat/' },
      to: { path: '^src/modules/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
