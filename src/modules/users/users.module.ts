import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { User } from './user.entity.js';
import { UsersService } from './users.service.js';
import { WorkspaceMember } from './workspace-member.entity.js';

@Module({
  imports: [TypeOrmModule.forFeature([User, WorkspaceMember])],
  providers: [UsersService],
  exports: [UsersService],
})
export class UsersModule {}
