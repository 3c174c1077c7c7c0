/** ISO 9660 with Rock Ridge, Joliet and El Torito: writer, hybrid system area, reader. */
export { writeIso9660, planIso9660, iso9660Size } from './write.js';
export type {
  IsoOptions,
  IsoBootEntry,
  IsoBootOptions,
  IsoAppended,
  IsoHybridOptions,
  IsoPlanHandle,
  IsoSummary,
} from './options.js';
export type { IsoLevel } from './names.js';
export { openIso9660, isIso9660, type IsoVolume, type IsoInfo } from './read.js';
export type { CatalogEntry } from './eltorito.js';
