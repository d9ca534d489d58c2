/**
 * `ringkv/internal`: pieces of the CLI that the repository's own tools use (the migration
 * report draws its charts with the same SVG renderer as `ringkv simulate --svg`). Not a
 * stable API: it may change in any release.
 */
export { renderSvg } from './simulate-svg.js';
