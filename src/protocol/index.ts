export * from './codes.js';
export * from './errors.js';
export * from './ids.js';
export * from './frames.js';
