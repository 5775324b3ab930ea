// `node dist/main.js` (`npm start`): the token server, configured from `.env` and the environment.
import 'reflect-metadata';
import { bootstrap } from './src/bootstrap.js';

await bootstrap();
