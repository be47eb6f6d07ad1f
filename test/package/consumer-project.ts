// The tsconfig.json of a consumer project that type-checks with the package's types, its dependencies'
// declarations included (skipLibCheck false), as a strict application would.
export function consumerTsconfig(compilerOptions: Record<string, unknown> = {}): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2023',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      // The SDK's declarations reach none of @matrixai/quic's (whose own .d.ts do not compile against
      // TypeScript 5.9's lib): a consumer checking its dependencies' declarations compiles too.
      skipLibCheck: false,
      types: ['node'],
      ...compilerOptions,
    },
    include: ['*.ts'],
  });
}
