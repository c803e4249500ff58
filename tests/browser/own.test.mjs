// The demo with a visitor's own pictures and package (Chromium): a folder
// of pictures laid out as models/build.py reads it streams with the true
// labels its folder names give; a package file opened on the page replaces
// the shipped one without a reload, and the page goes on classifying.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { openDemo, pageQuery, root, snapshot, waitForState, waitForText } from './harness.mjs';

/** DIR/test/<label>/*.png: real Fashion-MNIST test images ('/' in a label written '_'). */
function pictureFolder() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dyce-own-'));
  const r = spawnSync('/usr/bin/python3', [path.join(root, 'tests/build/make_data.py'), 'fmnist', dir, '1', '2'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return dir;
}

test('a folder of the visitor\'s pictures streams with labels from its folder names; an opened package replaces the shipped one', async () => {
  const dir = pictureFolder();
  const demo = await openDemo({ query: pageQuery({ signals: 'battery' }) });
  try {
    const { page } = demo;
    await waitForState(page, (x) => x.total >= 10, 30_000, '10 frames of test images');
    await page.setInputFiles('#picture-folder', path.join(dir, 'test'));
    const s = await waitForState(page, (x) => x.source === 'pictures', 10_000, 'the pictures as the source');
    assert.equal(s.pictures, 20, 'two pictures of each of the ten classes');
    await waitForText(page, 'status', /20 of your pictures, 20 with a true label/);
    const since = s.total;
    const p = await waitForState(page, (x) => x.total >= since + 25, 30_000, '25 frames of the pictures');
    const frames = p.frames.slice(-(p.total - since));
    assert.ok(frames.every((f) => typeof f.correct === 'boolean'), 'every picture has its true label');
    // The shipped backbone knows these test images: most answers are right.
    assert.ok(frames.filter((f) => f.correct).length >= 0.6 * frames.length, `${frames.filter((f) => f.correct).length}/${frames.length} right`);
    assert.match(await page.textContent('#truth'), /^(T-shirt\/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)$/);

    // Another package, from a file: the page runs it, its configurations in the menu.
    const reds = path.join(root, 'models/fashion-mnist-reds.dyce');
    await page.setInputFiles('#package-file', reds);
    const r = await waitForState(page, (x) => x.model.endsWith('/fashion-mnist-reds.dyce') && x.total >= 10, 30_000, '10 frames of the opened package');
    assert.equal(r.source, 'dataset');
    const configs = await page.evaluate(() => window.demo.model.configs.length);
    assert.equal(await page.locator('#override option').count(), 1 + configs, 'the opened package\'s configurations only');
    assert.ok(r.frames.every((f) => typeof f.correct === 'boolean'), 'Fashion-MNIST labels: the test images keep their true labels');
    assert.deepEqual(demo.errors, []);
  } finally {
    await demo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
