import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Real photographs for measuring search quality, all from packages the registries carry (nothing
 * is downloaded from anywhere else, and nothing is installed here: CI installs them, see
 * `INSTALL_HINT`). Each picture is listed by hand so the set never drifts with a package update,
 * and so every file is one distinct picture (the wallpaper packages also ship the same picture at
 * several sizes, which would count as a duplicate of itself).
 *
 * Licences (from each package's /usr/share/doc/<package>/copyright, or scikit-image's docstrings):
 * - Debian `mate-backgrounds`: GPL-2+ (per-file authors in its copyright file).
 * - Debian `darknet`: GPL-3.0+ or MIT or WTFPL (sample pictures of the YOLO project).
 * - Debian `lomiri-wallpapers-16.04` / `-20.04`: CC-BY-4.0, CC-BY-SA-3.0/4.0 per picture; the
 *   photographer is in each file name (e.g. aitzgorri_by_Aitzol_Berasategi.jpg).
 * - Debian `plasma-workspace-wallpapers`: GPL-2+ (KDE Visual Design Group).
 * - PyPI `scikit-image` (its skimage/data folder): public domain or CC0 per picture (astronaut,
 *   rocket and hubble_deep_field NASA/SpaceX public domain; chelsea, coffee, camera CC0 by their
 *   photographers; brick, grass, gravel CC0 Textures; retina CC0; coins, text, ihc no known
 *   restrictions) — the package itself is BSD-3-Clause.
 *
 * Categories are given by hand, only where a picture clearly is one thing, for the
 * "similar scene" measurements; the rest are unlabelled but still queried and searched.
 */

export type Category = 'animal' | 'landscape' | 'plant';

export interface CorpusPicture {
  /** Short unique name, e.g. `darknet/dog`. */
  id: string;
  path: string;
  /** Debian or PyPI package that ships the file. */
  source: PackageName;
  category?: Category;
}

export interface PhotoCorpus {
  /** Real photographs: indexed, and each one edited into query copies. */
  photos: CorpusPicture[];
  /** Illustrations, paintings, renders and patterns: indexed only, never queried. */
  distractors: CorpusPicture[];
}

type PackageName =
  | 'mate-backgrounds'
  | 'darknet'
  | 'lomiri-wallpapers-16.04'
  | 'lomiri-wallpapers-20.04'
  | 'plasma-workspace-wallpapers'
  | 'scikit-image';

/** The lines CI runs so `photoCorpus()` finds its files. */
export const INSTALL_HINT =
  'apt-get install -y --no-install-recommends mate-backgrounds darknet lomiri-wallpapers-16.04 ' +
  'lomiri-wallpapers-20.04 plasma-workspace-wallpapers && python3 -m venv .cache/photo-venv && ' +
  '.cache/photo-venv/bin/pip install --no-deps scikit-image==0.26.0';

/** [file, category?] per package, relative to the package's folder. */
type Entry = readonly [file: string, category?: Category];

const MATE = '/usr/share/backgrounds/mate';
const DARKNET = '/usr/share/darknet/data';
const LOMIRI = '/usr/share/backgrounds';
const PLASMA = '/usr/share/wallpapers';
/** KDE ships each wallpaper at many sizes; one size per picture. */
const plasma = (name: string, size = '1920x1080'): string => `${name}/contents/images/${size}.jpg`;

const PHOTOS: Record<PackageName, readonly Entry[]> = {
  'mate-backgrounds': [
    ['nature/Aqua.jpg'],
    ['nature/Blinds.jpg', 'plant'],
    ['nature/Dune.jpg'],
    ['nature/FreshFlower.jpg', 'plant'],
    ['nature/Garden.jpg', 'plant'],
    ['nature/GreenMeadow.jpg', 'plant'],
    ['nature/LadyBird.jpg', 'plant'],
    ['nature/RainDrops.jpg', 'plant'],
    ['nature/Storm.jpg', 'landscape'],
    ['nature/TwoWings.jpg', 'plant'],
    ['nature/Wood.jpg'],
    ['nature/YellowFlower.jpg', 'plant']
  ],
  darknet: [
    ['dog.jpg', 'animal'],
    ['eagle.jpg', 'animal'],
    ['giraffe.jpg', 'animal'],
    ['horses.jpg', 'animal'],
    ['kite.jpg', 'landscape'],
    ['person.jpg', 'animal']
  ],
  'lomiri-wallpapers-16.04': [
    ['Bridge_by_Sander_Klootwijk.jpg'],
    ['Dragonfly_by_Bolly.jpg', 'plant'],
    ['Picture_0B_by_freespace.jpg'],
    ['Picture_1A_by_freespace.jpg'],
    ['Wine_by_Jakkub_Mede.jpg'],
    ['aitzgorri_by_Aitzol_Berasategi.jpg', 'landscape'],
    ['analogpattern_by_Peter_Nerlich.jpg'],
    ['free_by_Peter_Nerlich.jpg'],
    ['friends_by_Aitzol_Berasategi.jpg', 'animal'],
    ['greentock_by_Peter_Nerlich.jpg'],
    ['life_by_Aitzol_Berasategi.jpg', 'landscape'],
    ['picosdeeuropa_by_Aitzol_Berasategi.jpg', 'landscape'],
    ['seeding_by_Clements_Engelhardt.jpg', 'plant'],
    ['sunset_by_Aitzol_Berasategi.jpg', 'landscape']
  ],
  'lomiri-wallpapers-20.04': [['Kleiber_by_Lukas_Baubkus.jpg', 'animal']],
  'plasma-workspace-wallpapers': [
    [plasma('BytheWater')],
    [plasma('ColdRipple'), 'landscape'],
    [plasma('ColorfulCups', '2560x1600')],
    [plasma('DarkestHour'), 'landscape'],
    [plasma('EveningGlow'), 'landscape'],
    [plasma('FallenLeaf'), 'plant'],
    [plasma('Grey')],
    [plasma('Kite')],
    [plasma('OneStandsOut'), 'plant'],
    [plasma('Path'), 'landscape'],
    [plasma('summer_1am'), 'landscape'],
    [plasma('Volna', '5120x2880')]
  ],
  'scikit-image': [
    ['astronaut.png'],
    ['brick.png'],
    ['camera.png'],
    ['chelsea.png', 'animal'],
    ['coffee.png'],
    ['coins.png'],
    ['grass.png'],
    ['gravel.png'],
    ['hubble_deep_field.jpg'],
    ['ihc.png'],
    ['moon.png'],
    // motorcycle_right.png is the other half of this stereo pair: a near-duplicate, left out.
    ['motorcycle_left.png'],
    ['page.png'],
    ['retina.jpg'],
    ['rocket.jpg'],
    ['text.png']
  ]
};

const DISTRACTORS: Record<PackageName, readonly string[]> = {
  'mate-backgrounds': [
    'abstract/Arc-Colors-Transparent-Wallpaper.png',
    'abstract/Elephants.jpg',
    'abstract/Flow.png',
    'abstract/Gulp.png',
    'abstract/Silk.png',
    'abstract/Spring.png',
    'abstract/Waves.png',
    'desktop/Float-into-MATE.png',
    'desktop/GreenTraditional.jpg',
    'desktop/MATE-Stripes-Dark.png',
    'desktop/Stripes.png'
  ],
  darknet: ['scream.jpg'],
  'lomiri-wallpapers-16.04': ['umang_by_Abhishek_Mudgal.jpg'],
  'lomiri-wallpapers-20.04': [
    'Fossa_by_Jasper_Roks.jpg',
    'Infinite-Sea_by_Aury88.jpg',
    'Painting-Colors_by__herobrine7gamer.jpg'
  ],
  'plasma-workspace-wallpapers': [
    plasma('Autumn'),
    plasma('Honeywave', '1080x1920'),
    plasma('Flow', '720x1440'),
    plasma('PastelHills', '1920x1080'),
    plasma('SafeLanding', '1622x2880'),
    plasma('Shell', '720x1440')
  ],
  'scikit-image': [
    'cell.png',
    'chessboard_RGB.png',
    'clock_motion.png',
    'color.png',
    'horse.png',
    'logo.png',
    'microaneurysms.png',
    'phantom.png'
  ]
};

const ROOT = resolve(import.meta.dirname, '../..');

/** scikit-image's data folder: the project's venv (any Python 3.x), else a system install. */
function skimageData(): string | undefined {
  const venvLib = join(ROOT, '.cache/photo-venv/lib');
  const candidates = existsSync(venvLib)
    ? readdirSync(venvLib)
        .filter((d) => d.startsWith('python3'))
        .map((d) => join(venvLib, d, 'site-packages/skimage/data'))
    : [];
  candidates.push('/usr/lib/python3/dist-packages/skimage/data');
  return candidates.find((dir) => existsSync(join(dir, 'chelsea.png')));
}

function packageDir(name: PackageName): string | undefined {
  switch (name) {
    case 'mate-backgrounds':
      return MATE;
    case 'darknet':
      return DARKNET;
    case 'lomiri-wallpapers-16.04':
    case 'lomiri-wallpapers-20.04':
      return LOMIRI;
    case 'plasma-workspace-wallpapers':
      return PLASMA;
    case 'scikit-image':
      return skimageData();
  }
}

/**
 * Finds every picture of the corpus, or throws one message naming each missing package and the
 * install line, so a machine without them fails clearly instead of measuring a smaller set.
 */
export function photoCorpus(): PhotoCorpus {
  const missing = new Set<PackageName>();
  const locate = (source: PackageName, file: string): string => {
    const dir = packageDir(source);
    const path = dir ? join(dir, file) : file;
    if (!dir || !existsSync(path)) missing.add(source);
    return path;
  };
  const photos: CorpusPicture[] = [];
  const distractors: CorpusPicture[] = [];
  for (const source of Object.keys(PHOTOS) as PackageName[]) {
    for (const [file, category] of PHOTOS[source]) {
      photos.push({ id: idOf(source, file), path: locate(source, file), source, category });
    }
    for (const file of DISTRACTORS[source]) {
      distractors.push({ id: idOf(source, file), path: locate(source, file), source });
    }
  }
  if (missing.size > 0) {
    throw new Error(
      `The real-photo corpus needs these packages, not found on this machine: ${[...missing].join(', ')}. ` +
        `Install them with: ${INSTALL_HINT}`
    );
  }
  return { photos, distractors };
}

/** `darknet/dog`, `plasma-workspace-wallpapers/Path`: the package plus the picture's own name. */
function idOf(source: PackageName, file: string): string {
  const name = file.includes('/contents/images/')
    ? file.split('/')[0]!
    : file
        .split('/')
        .pop()!
        .replace(/\.[a-z]+$/i, '');
  return `${source}/${name}`;
}
