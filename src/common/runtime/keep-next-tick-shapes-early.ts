// Imported first by main.ts, so that it runs before the rest of start-up (loading NestJS,
// TypeORM and the rest runs full collections that could free nextTick's task shapes).
import { keepNextTickShapes } from './next-tick-shapes.js';

keepNextTickShapes();
