import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { UsersModule } from '../users/users.module.js';
import { WorkspacesModule } from '../workspaces/workspaces.module.js';
import { ConsoleController } from './console.controller.js';

/**
 * The web console: HTML shells behind the sign-in. Its browser code (public/assets/console) uses
 * only the public /api/v1 API; the static files are served by `staticFiles` (installed in app.ts).
 */
@Module({
  imports: [AuthModule, WorkspacesModule, UsersModule],
  controllers: [ConsoleController],
})
export class ConsoleModule {}
