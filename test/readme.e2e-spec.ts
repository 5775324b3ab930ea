import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { snippetSource, typescriptBlocks } from './support/readme-snippets.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCUMENTS = ['README.md', 'packages/nestjs-wechat-token/README.md', 'examples/host-app/README.md'];

/**
 * Every TypeScript block of the READMEs is a copy of a real file (or a marked
 * region of one) that the lint's `tsc` compiles, and that the packaging test
 * compiles again against the packed library: a snippet that does not compile
 * cannot get into a README.
 */
describe.each(DOCUMENTS)('%s', (document) => {
  const blocks = typescriptBlocks(readFileSync(`${ROOT}${document}`, 'utf8'));

  it('marks every TypeScript block with the file it is a copy of', () => {
    const unmarked = blocks.filter((block) => !block.source).map((block) => `line ${block.line}`);
    expect(unmarked).toEqual([]);
  });

  it('has every marked block exactly as the file is', () => {
    for (const { source, code } of blocks.filter((block) => block.source)) {
      expect({ source, code }).toEqual({ source, code: snippetSource(ROOT, source!) });
    }
  });
});

describe('typescriptBlocks', () => {
  it('finds the marker across blank lines and reports unmarked blocks', () => {
    const markdown = [
      'text',
      '<!-- snippet: a.ts -->',
      '',
      '```ts',
      'const a = 1;',
      '```',
      '```typescript',
      'const b = 2;',
      '```',
      '```bash',
      'npm test',
      '```',
    ].join('\n');
    expect(typescriptBlocks(markdown)).toEqual([
      { line: 4, code: 'const a = 1;', source: 'a.ts' },
      { line: 7, code: 'const b = 2;', source: undefined },
    ]);
  });
});
