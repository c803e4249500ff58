// The demo's folder picker (web/pictures.mjs listPictures) reads a chosen
// folder as the builder reads one (models/dyce_build/folders.py): hidden
// files and __MACOSX left out, a picture's class the class folder it is
// under at any depth.
import assert from 'node:assert/strict';
import test from 'node:test';

import { listPictures } from '../../web/pictures.mjs';

const labels = ['T-shirt/top', 'Trouser', 'Bag'];
const file = (p, type = 'image/png') => ({ name: p.split('/').at(-1), type, webkitRelativePath: p });

test('listPictures: the builder\'s folder rules (hidden files, __MACOSX, nested files, "/" written "_")', () => {
  const files = [
    file('mine/test/Trouser/batch1/sub/1_000.png'),
    file('mine/test/Bag/8_000.png'),
    file('mine/test/Bag/._8_000.png'),
    file('mine/test/__MACOSX/Bag/._8_001.png'),
    file('mine/test/.thumbnails/t.png'),
    file('mine/.git/x.png'),
    file('mine/test/Bag/8_001.PNG', ''),
    file('mine/test/T-shirt_top/0.jpg', 'image/jpeg'),
    file('mine/test/Bag/notes.txt', 'text/plain'),
    file('loose.webp', ''),
  ];
  assert.deepEqual(listPictures(files, labels).map((p) => [p.path, p.truth]), [
    ['loose.webp', undefined],
    ['mine/test/Bag/8_000.png', 'Bag'],
    ['mine/test/Bag/8_001.PNG', 'Bag'],
    ['mine/test/T-shirt_top/0.jpg', 'T-shirt/top'],
    ['mine/test/Trouser/batch1/sub/1_000.png', 'Trouser'],
  ]);
});
