// The three-layer rule (docs/model.md, "Layout: three layers"): arrows point one way,
// machine <- linux <- tool. `npm test` runs it (test/layers.test.ts); a violation names the rule
// and the import. Type-only imports count: the kernel layer may not even name a tool type.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'machine-imports-only-machine',
      comment: 'src/machine (the simulated hardware and per-CPU runtime) imports nothing of src/linux or the tool',
      severity: 'error',
      from: { path: '^src/machine/' },
      to: { path: '^src/', pathNot: '^src/machine/' },
    },
    {
      name: 'linux-imports-only-machine-and-linux',
      comment: 'src/linux (the modelled kernel) imports only src/machine and itself; checks go through src/linux/include/linux/mmdebug.ts hooks',
      severity: 'error',
      from: { path: '^src/linux/' },
      to: { path: '^src/', pathNot: '^src/(machine|linux)/' },
    },
    {
      name: 'no-folder-cycle',
      scope: 'folder',
      comment: 'no import cycle between folders of src/',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { path: '^src/' } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
